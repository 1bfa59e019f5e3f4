"""What VACE is given for an edit: the parent's frames, the masks, the picture; and how the
result is put back (`worker.composite`).

The parent is read with the bounded decoder (`worker.media_sandbox.read_clip`) at the family's
native rate, the frames the child needs and no more. A modify, add or swap keeps the parent's
size; an expand renders on the canvas `core.edits.expand_canvas` gives (the front end sized the
spec with the same function: a different size is refused, not guessed at).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from core.edits import Canvas, expand_canvas
from core.rendercaps import Capabilities
from core.spec import RenderSpec
from worker.backends.common import frames_for
from worker.composite import FEATHER_PX, composite, reach
from worker.edit_masks import RegionFinder, box_mask, expand_inputs, found_mask
from worker.images import fit_image
from worker.media_decode import ClipPlan
from worker.media_sandbox import read_clip, scan_samples


@dataclass
class EditInputs:
    """The conditioning of one edit, and what compositing needs afterwards."""

    video: np.ndarray  # (T, H, W, 3) uint8: what VACE sees (the parent, on its canvas)
    mask: np.ndarray  # (T, H, W) bool: where VACE generates
    region: np.ndarray  # (T, H, W) bool: where the output may differ from `video`
    feather: int  # how far outside `region` the seam fades (0: a hard edge)
    reference: Any | None = None  # the add / swap picture (PIL), VACE's reference_images
    timings: dict[str, float] = field(default_factory=dict)  # "regions": finding the thing

    def reach(self) -> np.ndarray:
        """Every pixel the composite may change: the region and its feathered seam."""
        return reach(self.region, self.feather)

    def composite(self, generated: np.ndarray) -> np.ndarray:
        """The generated frames on the region, the parent's everywhere else."""
        count = min(len(generated), len(self.video))
        return composite(
            self.video[:count], generated[:count], self.region[:count], feather=self.feather
        )


def needed_frames(spec: RenderSpec, caps: Capabilities) -> int:
    """Frames of the child at the family's rate (4k + 1)."""
    return frames_for(spec.duration_s, caps.native_fps, caps.frame_step)


def _read_parent(path: Path, width: int, height: int, caps: Capabilities, needed: int) -> Any:
    """The parent's first `needed` frames at the family's rate. A clip of exactly the child's
    length decodes a frame or few short of 4k+1 (its last instant is not a frame): its last
    frame is held for those (at most `frame_step`), so the child keeps the parent's timing; a
    shorter parent is cut to 4k+1 frames."""
    frames = read_clip(path, ClipPlan(width, height, caps.native_fps, needed))
    short = needed - len(frames)
    if 0 < short <= caps.frame_step:
        return np.concatenate([frames, np.repeat(frames[-1:], short, axis=0)])
    count = (len(frames) - 1) // caps.frame_step * caps.frame_step + 1
    return frames[:count]


def parent_size(path: Path) -> tuple[int, int]:
    """(width, height) of the parent clip's first frame, upright (as a player shows it)."""
    _, _, frames = scan_samples(path, 0)
    first = frames[min(frames)]
    return int(first.shape[1]), int(first.shape[0])


def canvas_for(spec: RenderSpec, caps: Capabilities, parent: tuple[int, int]) -> Canvas:
    """The expand's canvas for a parent of `parent` size: `expand_canvas` at the family's
    pixels, or at the spec's own area (a front end that sizes clips smaller, as tests and small
    fleets do). ValueError when neither gives the spec's size: the front end and the worker
    must agree on the shape."""
    edit = spec.edit
    assert edit is not None
    size = (spec.width, spec.height)
    for pixels in (caps.native_pixels, spec.width * spec.height):
        canvas = expand_canvas(
            *parent,
            expand_to=edit.expand_to,
            zoom_out=edit.zoom_out,
            native_pixels=pixels,
            multiple=caps.size_multiple,
        )
        if (canvas.width, canvas.height) == size:
            return canvas
    raise ValueError(
        f"width={spec.width} and height={spec.height} are not the expanded canvas "
        f"{canvas.width}x{canvas.height} of a {parent[0]}x{parent[1]} clip "
        f"({edit.describe()}); size the edit with core.edits.expand_canvas"
    )


def edit_inputs(
    spec: RenderSpec,
    caps: Capabilities,
    inputs: Sequence[Path],
    finder: Callable[[], RegionFinder],
) -> EditInputs:
    """The parent (and picture) read, the masks made. `finder` gives the region finder, loaded
    at the first edit with words; RegionNotFound (the member's message) when it sees nothing."""
    edit = spec.edit
    if edit is None or not inputs:
        raise ValueError("mode 'edit' takes the parent clip (and for add or swap, a picture)")
    needed = needed_frames(spec, caps)
    timings: dict[str, float] = {}
    if edit.kind == "expand":
        canvas = canvas_for(spec, caps, parent_size(inputs[0]))
        _, _, inner_w, inner_h = canvas.inner
        parent = _read_parent(inputs[0], inner_w, inner_h, caps, needed)
        video, mask = expand_inputs(parent, canvas)
        region = np.ones_like(mask)
        left, top, _, _ = canvas.inner
        region[:, top : top + inner_h, left : left + inner_w] = False
        return EditInputs(video, mask, region, feather=0, timings=timings)
    video = _read_parent(inputs[0], spec.width, spec.height, caps, needed)
    if edit.where:
        t0 = time.perf_counter()
        mask = found_mask(finder(), video, edit.where)
        timings["regions"] = time.perf_counter() - t0
    else:
        # No region: the whole frame, with the parent still given to VACE as context so its
        # motion and layout carry over. Our choice over loading LucyEditPipeline as well for
        # instruction edits: one model resident instead of two (their quality not measured).
        mask = box_mask(edit, len(video), spec.height, spec.width)
    reference = fit_image(inputs[1], spec.width, spec.height) if len(inputs) > 1 else None
    return EditInputs(video, mask, mask, FEATHER_PX, reference, timings)
