"""Stories on the tiny model: shots chained by image-to-video, stored, resumed after a retry."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from core.spec import RenderSpec
from gallery.media import LocalMediaStore
from worker.backends import RenderedClip, load_backend
from worker.backends.tiny import TinyBackend, native_frames
from worker.story import ShotFiles, read_shot, render_story

pytestmark = pytest.mark.timeout(120)
GID = "5107" + "0" * 28
TEXTS = ["a knight rides out", "the knight meets a dragon", "they share tea"]
PER_SHOT = native_frames(1.0)  # one second a shot: 9 frames at the tiny model's 8 fps


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
        "num_frames": 24 * len(TEXTS),  # one second a shot at 24 fps
        "steps": 2,
        "seed": 7,
        "mode": "story",
    }
    return RenderSpec.model_validate(fields | changes)


class Shots:
    """Records each shot the backend renders (its spec and frames) and what the image-to-video
    pipeline was conditioned on, then lets the real pipelines run."""

    def __init__(self, backend: TinyBackend, monkeypatch: pytest.MonkeyPatch) -> None:
        self.specs: list[RenderSpec] = []
        self.clips: list[RenderedClip] = []
        self.conditions: list[Any] = []
        render, prepare = backend.render, backend.image_pipe.prepare_latents

        def spy_render(spec: RenderSpec, on_step: Any, *, inputs: Any = ()) -> RenderedClip:
            self.specs.append(spec)
            self.clips.append(render(spec, on_step, inputs=inputs))
            return self.clips[-1]

        def spy_prepare(image: Any = None, *args: Any, **kwargs: Any) -> Any:
            self.conditions.append(image.clone())
            return prepare(image, *args, **kwargs)

        monkeypatch.setattr(backend, "render", spy_render)
        monkeypatch.setattr(backend.image_pipe, "prepare_latents", spy_prepare)


def test_three_shots_make_one_clip_each_from_the_last_ones_last_frame(
    backend: TinyBackend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shots = Shots(backend, monkeypatch)
    steps: list[tuple[int, int, str]] = []
    spec = story_spec()
    files = ShotFiles(LocalMediaStore(tmp_path), GID)

    clip = render_story(backend, spec, lambda *args: steps.append(args), files=files)

    assert clip.frames.shape == (3 * PER_SHOT - 2, 96, 128, 3)  # the seams' repeats dropped
    assert [s.prompt for s in shots.specs] == TEXTS
    assert [s.mode for s in shots.specs] == ["t2v", "i2v", "i2v"]
    assert [s.seed for s in shots.specs] == [7, 8, 9]
    assert {s.num_frames for s in shots.specs} == {24}
    assert ("shot 2/3" in {label for _, _, label in steps}) and steps[-1] == (2, 2, "shot 3/3")
    # the joined clip is shot 1, then shots 2 and 3 without their first frames
    expected = [shots.clips[0].frames, *(c.frames[1:] for c in shots.clips[1:])]
    np.testing.assert_array_equal(clip.frames, np.concatenate(expected))
    # shot k+1 was conditioned on shot k's last frame, not on anything else of shot k
    assert len(shots.conditions) == 2
    processor = backend.image_pipe.video_processor
    for k, condition in enumerate(shots.conditions):
        frames = shots.clips[k].frames
        last, first = (
            processor.preprocess(Image.fromarray(frames[i]), height=96, width=128) for i in (-1, 0)
        )
        assert (condition - last).abs().mean() < 0.01 * (condition - first).abs().mean()
    # every shot was stored before the next began
    assert all((tmp_path / GID[:2] / f"{GID}.s{k}.mp4").is_file() for k in range(3))
    assert files.local() == [f"{GID[:2]}/{GID}.s{k}.mp4" for k in range(3)]  # evicted once done


def test_a_retry_renders_only_the_shots_not_stored(
    backend: TinyBackend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    media = LocalMediaStore(tmp_path)
    spec = story_spec()
    first = render_story(backend, spec, lambda *args: None, files=ShotFiles(media, GID))
    media.remove(GID, ["s2.mp4"])  # the worker died while shot 3 rendered

    shots = Shots(backend, monkeypatch)
    retried = render_story(
        backend, spec, lambda *args: None, files=ShotFiles(media, GID, resume=True)
    )

    assert [s.prompt for s in shots.specs] == [TEXTS[2]]  # shots 1 and 2 not rendered again
    assert retried.frames.shape == first.frames.shape
    # shots 1 and 2 are the stored ones, as decoded
    kept = [read_shot(tmp_path / GID[:2] / f"{GID}.s{k}.mp4") for k in range(2)]
    np.testing.assert_array_equal(
        retried.frames[: 2 * PER_SHOT - 1], np.concatenate([kept[0], kept[1][1:]])
    )
    assert (tmp_path / GID[:2] / f"{GID}.s2.mp4").is_file()  # and the new third one stored


def test_a_story_from_a_picture_starts_with_image_to_video(
    backend: TinyBackend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    picture = tmp_path / "start.png"
    Image.new("RGB", (160, 120), (200, 30, 30)).save(picture)
    shots = Shots(backend, monkeypatch)
    spec = story_spec(prompt="a | b", num_frames=48, sound=True)
    render_story(backend, spec, lambda *args: None, inputs=(picture,))
    assert [s.mode for s in shots.specs] == ["i2v", "i2v"]
    assert not any(s.sound for s in shots.specs)  # one track over the story, made after


def test_each_shot_renders_with_its_own_camera_motion_and_length(
    backend: TinyBackend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shots = Shots(backend, monkeypatch)
    own = [{"camera": "pan left", "negative_prompt": "fog"}, {"num_frames": 48, "motion": 3}, {}]
    spec = story_spec(shot_flags=own, num_frames=24 + 48 + 24, camera="zoom in")

    clip = render_story(backend, spec, lambda *args: None)

    assert [s.camera for s in shots.specs] == ["pan left", "zoom in", "zoom in"]
    assert [s.motion for s in shots.specs] == [3 if k == 1 else spec.motion for k in range(3)]
    assert [s.num_frames for s in shots.specs] == [24, 48, 24]
    assert [s.negative_prompt for s in shots.specs] == ["fog", "", ""]
    assert all(not s.shot_flags for s in shots.specs)  # each shot is a plain clip
    assert clip.frames.shape[0] == PER_SHOT + native_frames(2.0) + PER_SHOT - 2
