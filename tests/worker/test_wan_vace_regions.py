"""wan_vace edits that name a thing in words ("the red car"): found in every frame by the real
region finder (`worker.regions`, tiny SAM 3), regenerated there and nowhere else; words that
match nothing fail the job with the member's message. And the family's saved tiny folders load
through the production `from_pretrained` branch and edit a clip."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from cli.tiny_models import write_tiny
from core.edits import Box, EditSpec
from core.spec import RenderSpec
from worker.backends import load_backend
from worker.backends.wan_vace import CAPABILITIES, WanVaceBackend
from worker.edit_masks import DILATE_PX, dilate
from worker.encode import encode_mp4
from worker.media_decode import ClipPlan
from worker.media_sandbox import read_clip
from worker.model_sources import ModelLoadError, load_configured
from worker.regions import TINY, RegionFinder
from worker.settings import WorkerConfig
from worker.tasks import failure_reason

LOW = 0.1  # the tiny random detector scores about 0.25 (tests/worker/test_regions.py)
NOWHERE = 0.99  # above any score: the finder sees nothing


@pytest.fixture(scope="module")
def backend() -> WanVaceBackend:
    built = load_backend("wan_vace", model="builtin:tiny", device="cpu")
    assert isinstance(built, WanVaceBackend)
    return built


@pytest.fixture(scope="module")
def parent(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("media") / "parent.mp4"
    rng = np.random.default_rng(3)
    frames = rng.integers(0, 80, (12, 64, 96, 3), dtype=np.uint8)
    frames[:, 16:40, 30:60] = (220, 30, 30)  # a red thing to find
    encode_mp4(frames, 24.0, path, fps=24, num_frames=12)
    return path


def where_spec(where: str = "", box: Box | None = None) -> RenderSpec:
    return RenderSpec(
        prompt="a blue car",
        aspect_ratio="3:2",
        width=96,
        height=64,
        num_frames=4,
        fps=24,
        steps=2,
        seed=7,
        backend="wan_vace",
        mode="edit",
        edit=EditSpec(kind="modify", where=where, box=box),
        input_media=("parent.mp4",),
    )


class Spy:
    """Stands in for the pipeline: records each call's keyword arguments, then calls through."""

    def __init__(self, pipe: Any) -> None:
        self.pipe, self.calls = pipe, []

    def __call__(self, **kwargs: Any) -> Any:
        self.calls.append(kwargs)
        return self.pipe(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.pipe, name)


class Recorder:
    """The real finder, remembering the masks it gave."""

    def __init__(self, finder: RegionFinder) -> None:
        self.finder, self.masks = finder, []

    def find(self, frames: list[Any], words: str) -> np.ndarray | None:
        found = self.finder.find(frames, words)
        self.masks.append(found)
        return found


def test_words_become_the_mask_vace_generates_in(backend: WanVaceBackend, parent: Path) -> None:
    """The finder's masks (the tiny random model's are speckled, so no pixel of the clip lies
    beyond their seam: the box tests check what stays the parent's), grown a few pixels, are
    VACE's masks, frame by frame."""
    tiny = RegionFinder.load(TINY, device="cpu", threshold=LOW)
    backend._finder = recorder = Recorder(tiny)  # type: ignore[assignment]
    pipe = backend.pipe
    backend.pipe = spy = Spy(pipe)
    try:
        clip = backend.render(where_spec("the red car"), lambda s, t: None, inputs=[parent])
    finally:
        backend.pipe = pipe
    (found,) = recorder.masks
    assert found is not None and found.shape == (5, 64, 96) and found.any()
    given = np.stack([np.asarray(image) == 255 for image in spy.calls[0]["mask"]])
    assert np.array_equal(given, dilate(found, DILATE_PX))
    before = read_clip(parent, ClipPlan(96, 64, CAPABILITIES.native_fps, 5))
    assert clip.frames.shape == before.shape
    assert not np.array_equal(clip.frames[found], before[found])


def test_words_that_match_nothing_fail_with_the_members_message(
    backend: WanVaceBackend, parent: Path
) -> None:
    backend._finder = RegionFinder.load(TINY, device="cpu", threshold=NOWHERE)
    with pytest.raises(ValueError) as caught:
        backend.render(where_spec("the red car"), lambda s, t: None, inputs=[parent])
    told = failure_reason(caught.value, WorkerConfig(backend="wan_vace"))
    assert told == (
        'I couldn\'t find "the red car" in this clip. Name something that is in it, or give a '
        "region (left, right, top, bottom, center, or x,y,w,h in percent)."
    )


def test_a_region_finder_that_cant_load_tells_the_member_to_name_a_place(
    backend: WanVaceBackend, parent: Path, tmp_path: Path
) -> None:
    """The operator's message (setting, folder) goes to the log; the member is told what to do
    instead, and the clip fails at once rather than loading again on each retry."""
    from worker.tasks import PERMANENT_ERRORS

    saved = backend._finder, backend.regions_model
    backend._finder, backend.regions_model = None, str(tmp_path / "no-sam3-here")
    try:
        with pytest.raises(ModelLoadError) as caught:
            backend.render(where_spec("the red car"), lambda s, t: None, inputs=[parent])
    finally:
        backend._finder, backend.regions_model = saved
    assert "REELBOT_REGIONS_MODEL=" in str(caught.value)  # the operator's, for the log
    told = failure_reason(caught.value, WorkerConfig(backend="wan_vace"))
    assert told == (
        "a model this clip needs didn't load on this server (its admin can see why in the log); "
        "this server can't find things by name right now; give the region as left, right, top, "
        "bottom, center, or x,y,w,h in percent instead"
    )
    assert str(tmp_path) not in told
    assert isinstance(caught.value, PERMANENT_ERRORS)


def test_the_saved_tiny_folders_load_and_edit(
    tmp_path: Path, parent: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`reelbot models pull wan_vace --tiny`'s folders: the VACE pipeline and the region finder
    load from REELBOT_MODELS_DIR alone (from_pretrained, offline)."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    write_tiny("wan_vace", tmp_path)
    config = WorkerConfig(backend="wan_vace", device="cpu", models_dir=tmp_path)  # type: ignore[call-arg]
    loaded = load_configured(config)
    assert isinstance(loaded, WanVaceBackend)
    assert loaded.regions_model == str(tmp_path / "facebook/sam3")
    clip = loaded.render(
        where_spec(box=Box(x=0, y=0, w=50, h=50)), lambda s, t: None, inputs=[parent]
    )
    assert clip.frames.shape == (5, 64, 96, 3)
    assert isinstance(loaded.finder(), RegionFinder)  # loaded from its pulled folder
