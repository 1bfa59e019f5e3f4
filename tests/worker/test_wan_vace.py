"""The wan_vace backend on `builtin:tiny`: text-to-video, and edits of a clip (✏️ Modify, ↔ Expand,
/add) whose frames outside the edit stay the parent's."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from core.edits import Box, EditSpec, expand_canvas
from core.spec import RenderSpec
from worker.backends import load_backend
from worker.backends.wan_vace import CAPABILITIES, WanVaceBackend
from worker.composite import reach
from worker.edit_masks import box_mask
from worker.encode import encode_mp4
from worker.images import fit_image
from worker.media_decode import ClipPlan
from worker.media_sandbox import read_clip

SMALL = {"native_pixels": 96 * 64}  # an expand's canvas at the tiny model's scale


@pytest.fixture(scope="module")
def backend() -> WanVaceBackend:
    built = load_backend("wan_vace", model="builtin:tiny", device="cpu")
    assert isinstance(built, WanVaceBackend)
    built.capabilities = CAPABILITIES.model_copy(update=SMALL)
    return built


def smooth_clip(frames: int, height: int, width: int) -> np.ndarray:
    """Soft gradients drifting right: the codec keeps them nearly exact."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    out = np.empty((frames, height, width, 3), np.uint8)
    for t in range(frames):
        out[t, ..., 0] = 40 + 150 * (x + 2 * t) / (width + 2 * frames)
        out[t, ..., 1] = 60 + 120 * y / height
        out[t, ..., 2] = 128
    return out


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("media")
    encode_mp4(smooth_clip(12, 64, 96), 24.0, root / "parent.mp4", fps=24, num_frames=12)
    encode_mp4(smooth_clip(12, 72, 128), 24.0, root / "wide.mp4", fps=24, num_frames=12)
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (80, 80, 3), np.uint8)).save(root / "pic.png")
    return {"parent": root / "parent.mp4", "wide": root / "wide.mp4", "picture": root / "pic.png"}


def make_spec(**changes: Any) -> RenderSpec:
    fields: dict[str, Any] = {
        "prompt": "a red fox running through snow",
        "aspect_ratio": "3:2",
        "width": 96,
        "height": 64,
        "num_frames": 4,  # 1/6 s at 24 fps: 5 frames at the family's 16 fps
        "fps": 24,
        "steps": 2,
        "seed": 7,
        "backend": "wan_vace",
    }
    return RenderSpec(**(fields | changes))


def edit_spec(edit: EditSpec, pictures: int = 0, **changes: Any) -> RenderSpec:
    media = ("parent.mp4", *(["pic.png"] * pictures))
    return make_spec(mode="edit", edit=edit, input_media=media, **changes)


def parent_frames(path: Path, width: int, height: int, count: int = 5) -> np.ndarray:
    return read_clip(path, ClipPlan(width, height, CAPABILITIES.native_fps, count))


class Spy:
    """Stands in for the pipeline: records each call's keyword arguments, then calls through."""

    def __init__(self, pipe: Any) -> None:
        self.pipe, self.calls = pipe, []

    def __call__(self, **kwargs: Any) -> Any:
        self.calls.append(kwargs)
        return self.pipe(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.pipe, name)


def test_text_to_video_renders_the_specs_size_deterministically(backend: WanVaceBackend) -> None:
    steps: list[tuple[int, int]] = []
    spec = make_spec()
    clip = backend.render(spec, lambda s, t: steps.append((s, t)))
    assert clip.frames.shape == (5, 64, 96, 3) and clip.frames.dtype == np.uint8
    assert clip.fps == 16 and steps == [(1, 2), (2, 2)]
    assert clip.mask is None  # nothing to keep of a parent
    assert np.array_equal(clip.frames, backend.render(spec, lambda s, t: None).frames)
    other = backend.render(make_spec(seed=8), lambda s, t: None).frames
    assert not np.array_equal(clip.frames, other)


def test_a_step_that_raises_stops_the_render(backend: WanVaceBackend) -> None:
    """How a cancel reaches the backend: the step callback raises, nothing more is rendered."""

    class Stop(Exception):
        pass

    seen: list[int] = []

    def cancel(step: int, total: int) -> None:
        seen.append(step)
        raise Stop

    with pytest.raises(Stop):
        backend.render(make_spec(steps=3), cancel)
    assert seen == [1]


def test_modify_with_a_box_keeps_every_pixel_outside_it(
    backend: WanVaceBackend, media: dict[str, Path], tmp_path: Path
) -> None:
    box = Box(x=25, y=25, w=50, h=50)
    spec = edit_spec(EditSpec(kind="modify", box=box))
    clip = backend.render(spec, lambda s, t: None, inputs=[media["parent"]])
    parent = parent_frames(media["parent"], 96, 64)
    assert clip.frames.shape == parent.shape == (5, 64, 96, 3)

    inside = box_mask(spec.edit, 5, 64, 96)  # type: ignore[arg-type]
    outside = ~reach(inside)  # beyond the box and its feathered seam
    assert outside.sum() > 0.5 * outside.size
    assert np.array_equal(clip.frames[outside], parent[outside])  # byte for byte, before encode
    assert clip.mask is not None and np.array_equal(clip.mask, ~outside)  # kept as mask.png
    changed = np.abs(clip.frames.astype(int) - parent.astype(int))[inside]
    assert changed.mean() > 10  # the box was regenerated

    # through a real encode, outside differs by codec noise only
    encode_mp4(clip.frames, clip.fps, tmp_path / "child.mp4", fps=24, num_frames=4)
    decoded = parent_frames(tmp_path / "child.mp4", 96, 64, count=3)
    diff = np.abs(decoded.astype(int) - parent[: len(decoded)].astype(int))
    assert diff[outside[: len(decoded)]].mean() < 3
    assert diff[inside[: len(decoded)]].mean() > 10


def test_modify_without_a_region_may_change_the_whole_frame(
    backend: WanVaceBackend, media: dict[str, Path]
) -> None:
    spec = edit_spec(EditSpec(kind="modify"))
    pipe = backend.pipe
    backend.pipe = spy = Spy(pipe)
    try:
        clip = backend.render(spec, lambda s, t: None, inputs=[media["parent"]])
    finally:
        backend.pipe = pipe
    parent = parent_frames(media["parent"], 96, 64)
    assert clip.frames.shape == (5, 64, 96, 3)
    changed = np.abs(clip.frames.astype(int) - parent.astype(int)).max(axis=-1) > 10
    assert changed[:, :8].any() and changed[:, -8:].any()  # the edges changed too
    # the parent is still VACE's context: its frames are the video, every pixel white
    call = spy.calls[0]
    assert np.array_equal(np.asarray(call["video"][0]), parent[0])
    assert all(np.asarray(m).min() == 255 for m in call["mask"])


@pytest.mark.parametrize(
    ("parent", "edit", "size", "inner"),
    [
        ("wide", EditSpec(kind="expand", expand_to="9:16"), (64, 112), (0, 38, 64, 36)),
        ("parent", EditSpec(kind="expand", zoom_out=2.0), (96, 64), (24, 16, 48, 32)),
    ],
    ids=["16:9-to-9:16", "zoom-out-2x"],
)
def test_expand_renders_the_canvas_with_the_parent_unchanged_inside(
    backend: WanVaceBackend,
    media: dict[str, Path],
    parent: str,
    edit: EditSpec,
    size: tuple[int, int],
    inner: tuple[int, int, int, int],
) -> None:
    """The canvas (about the family's pixels, multiples of 16), the parent resized into the
    middle exactly, and new borders generated around it."""
    width, height = size
    spec = edit_spec(edit, width=width, height=height, aspect_ratio=f"{width}:{height}")
    clip = backend.render(spec, lambda s, t: None, inputs=[media[parent]])
    assert clip.frames.shape == (5, height, width, 3)
    left, top, w, h = inner
    resized = parent_frames(media[parent], w, h)
    assert np.array_equal(clip.frames[:, top : top + h, left : left + w], resized)
    border = np.ones((height, width), bool)
    border[top : top + h, left : left + w] = False
    assert np.abs(clip.frames[:, border].astype(int) - 127).mean() > 5  # generated, not grey


def test_expand_to_a_size_the_canvas_is_not_is_refused(
    backend: WanVaceBackend, media: dict[str, Path]
) -> None:
    spec = edit_spec(
        EditSpec(kind="expand", zoom_out=2.0), width=128, height=64, aspect_ratio="2:1"
    )
    with pytest.raises(
        ValueError, match=r"width=128 and height=64 are not the expanded canvas 112x80 of a 96x64"
    ):
        backend.render(spec, lambda s, t: None, inputs=[media["parent"]])


def test_expand_sized_by_a_front_end_at_another_scale_renders_its_canvas(
    backend: WanVaceBackend, media: dict[str, Path]
) -> None:
    """A bot sizing clips smaller or larger than the family (tests, small fleets) gets the
    canvas it asked for, in the shape the edit names, the parent in its middle."""
    canvas = expand_canvas(128, 72, expand_to="1:1", native_pixels=128 * 128, multiple=16)
    assert (canvas.width, canvas.height) == (128, 128)
    spec = edit_spec(
        EditSpec(kind="expand", expand_to="1:1"), width=128, height=128, aspect_ratio="1:1"
    )
    clip = backend.render(spec, lambda s, t: None, inputs=[media["wide"]])
    left, top, w, h = canvas.inner
    assert clip.frames.shape == (5, 128, 128, 3)
    assert np.array_equal(
        clip.frames[:, top : top + h, left : left + w], parent_frames(media["wide"], w, h)
    )


def test_add_gives_the_picture_to_vace_as_a_reference(
    backend: WanVaceBackend, media: dict[str, Path]
) -> None:
    spec = edit_spec(EditSpec(kind="add", box=Box(x=0, y=0, w=50, h=100)), pictures=1)
    pipe = backend.pipe
    backend.pipe = spy = Spy(pipe)
    try:
        clip = backend.render(spec, lambda s, t: None, inputs=[media["parent"], media["picture"]])
    finally:
        backend.pipe = pipe
    (reference,) = spy.calls[0]["reference_images"]
    expected = fit_image(media["picture"], 96, 64)
    assert np.array_equal(np.asarray(reference), np.asarray(expected))
    assert clip.frames.shape == (5, 64, 96, 3)  # the reference frames are not in the clip


def test_an_edit_as_long_as_its_parent_keeps_the_parents_timing(
    backend: WanVaceBackend, tmp_path: Path
) -> None:
    """A 1 s parent decodes 16 frames at 16 fps, one short of the 17 (4k+1) a 1 s child needs:
    its last frame is held for it, rather than the child being cut to 13 frames (0.75 s)."""
    parent = tmp_path / "second.mp4"
    encode_mp4(smooth_clip(24, 64, 64), 24.0, parent, fps=24, num_frames=24)
    edit = EditSpec(kind="modify", box=Box(x=0, y=0, w=25, h=25))
    spec = edit_spec(edit, width=64, height=64, aspect_ratio="1:1", num_frames=24, steps=1)
    clip = backend.render(spec, lambda s, t: None, inputs=[parent])
    assert len(clip.frames) == 17
    decoded = parent_frames(parent, 64, 64, count=17)
    assert len(decoded) == 16
    assert np.array_equal(clip.frames[16, 40:, 40:], decoded[15, 40:, 40:])


def test_ref_characters_reach_vace_whole_and_change_the_clip(
    backend: WanVaceBackend, media: dict[str, Path]
) -> None:
    """-ref: each saved character's whole picture (never cropped to the frame) is one of VACE's
    reference_images, and the clip differs from the same seed without it."""
    pipe = backend.pipe
    backend.pipe = spy = Spy(pipe)
    try:
        plain = backend.render(make_spec(), lambda s, t: None)
        spec = make_spec(reference_media=("ab/" + "ab" + "0" * 30 + ".char.png",))
        with_ref = backend.render(spec, lambda s, t: None, references=[media["picture"]])
    finally:
        backend.pipe = pipe
    assert "reference_images" not in spy.calls[0]
    (reference,) = spy.calls[1]["reference_images"]
    assert reference.size == (80, 80)  # the square picture as it is, not cut to 3:2
    assert with_ref.frames.shape == plain.frames.shape
    assert not np.array_equal(with_ref.frames, plain.frames)
