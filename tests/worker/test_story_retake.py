"""🎬 Retake of one shot of a story: that shot rendered again, the others the parent's."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from core.spec import RenderSpec
from core.story import cost
from gallery.media import LocalMediaStore
from worker.backends import RenderedClip, load_backend
from worker.backends.tiny import TinyBackend, native_frames
from worker.story import SEAM_FRAMES, ShotFiles, read_shot, render_story

pytestmark = pytest.mark.timeout(120)
PARENT = "5108" + "0" * 28
CHILD = "5109" + "0" * 28
TEXTS = ["a knight rides out", "the knight meets a dragon", "they share tea"]
PER_SHOT = native_frames(1.0)


@pytest.fixture(scope="module")
def backend() -> TinyBackend:
    built = load_backend("tiny", device="cpu")
    assert isinstance(built, TinyBackend)
    return built


def story_spec(**changes: object) -> RenderSpec:
    fields: dict[str, object] = {
        "prompt": " | ".join(TEXTS),
        "aspect_ratio": "4:3",
        "width": 128,
        "height": 96,
        "num_frames": 24 * len(TEXTS),
        "steps": 2,
        "seed": 7,
        "mode": "story",
    }
    return RenderSpec.model_validate(fields | changes)


def test_a_retake_of_shot_2_renders_it_alone_and_keeps_the_parents_other_shots(
    backend: TinyBackend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    media = LocalMediaStore(tmp_path)
    parent = story_spec()
    render_story(backend, parent, lambda *a: None, files=ShotFiles(media, PARENT))
    stored = [read_shot(media.path_for(PARENT, f"s{k}.mp4")) for k in range(3)]

    rendered: list[RenderSpec] = []
    render = backend.render

    def spy(spec: RenderSpec, on_step: Any, *, inputs: Any = ()) -> RenderedClip:
        rendered.append(spec)
        return render(spec, on_step, inputs=inputs)

    monkeypatch.setattr(backend, "render", spy)
    child = story_spec(seed=99, parent_id=PARENT, retake=1)
    files = ShotFiles.of(media, child, CHILD, attempt=1)
    clip = render_story(backend, child, lambda *a: None, files=files)

    assert [s.prompt for s in rendered] == [TEXTS[1]]  # shot 2 only, its own words
    assert rendered[0].mode == "i2v" and rendered[0].seed == 100
    frames = clip.frames
    assert frames.shape == (3 * PER_SHOT - 2, 96, 128, 3)
    np.testing.assert_array_equal(frames[:PER_SHOT], stored[0])  # shot 1: the parent's
    start3 = 2 * PER_SHOT - 1  # shot 3 starts here, its first (repeated) frame dropped
    np.testing.assert_array_equal(frames[start3 + SEAM_FRAMES :], stored[2][1 + SEAM_FRAMES :])
    new2 = frames[PER_SHOT:start3]
    assert not np.array_equal(new2, stored[1][1:])  # shot 2 was taken again
    # the child keeps its own copies of every shot, so a retry of it renders nothing again
    assert all(media.path_for(CHILD, f"s{k}.mp4").is_file() for k in range(3))


def test_a_retake_counts_one_clip_against_the_daily_cap() -> None:
    assert cost("story", " | ".join(TEXTS)) == 3
    assert cost("story", " | ".join(TEXTS), retake=1) == 1


def test_a_retake_names_a_shot_of_a_parent_story() -> None:
    with pytest.raises(ValueError, match="retake"):
        story_spec(retake=1)  # no parent
    with pytest.raises(ValueError, match="retake"):
        story_spec(parent_id=PARENT, retake=3)  # a 3-shot story has shots 0-2
    assert "retake" not in story_spec().model_dump(mode="json")
