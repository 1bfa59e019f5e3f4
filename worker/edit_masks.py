"""An edit's masks: where VACE generates (white, True) and where it keeps the parent (black).

A box is the same rectangle in every frame; words are found in every frame by the region finder
(`worker.regions`, SAM 3) and grown a few pixels, so an object's soft edge is regenerated with
it; no region is the whole frame. An expand puts the parent's frames, resized, on a grey canvas
and generates everything outside them, overlapping them by a few pixels so the seam blends.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final, Protocol

import numpy as np

from core.edits import Canvas, EditSpec
from worker.media_budget import UnreadableMedia

DILATE_PX: Final = 4  # a found thing's mask grows this much: its edge is regenerated too
OVERLAP_PX: Final = 4  # an expand regenerates this far into the parent, for a seamless blend
GREY: Final = 127  # an expand's new borders before VACE fills them (neutral: no colour cast)
REGION_WORDS: Final = "left, right, top, bottom, center, or x,y,w,h in percent"  # core.edits


class RegionFinder(Protocol):
    """What `worker.regions.RegionFinder` offers the editor."""

    def find(self, frames: list[Any], words: str) -> np.ndarray | None: ...


class RegionNotFound(UnreadableMedia):
    """The words name nothing the finder sees in the clip: the member's to fix, never retried.

    An `UnreadableMedia` because the worker shows that family's message to the member as it is
    (`worker.tasks.failure_reason`), as it does for a clip it can't use."""

    def __init__(self, words: str) -> None:
        super().__init__(
            f'I couldn\'t find "{words}" in this clip. Name something that is in it, or give a '
            f"region ({REGION_WORDS}).",
            advice="",
        )


def box_mask(edit: EditSpec, frames: int, height: int, width: int) -> np.ndarray:
    """(frames, height, width) bool: the edit's box in every frame, or every pixel without one."""
    mask = np.zeros((frames, height, width), dtype=bool)
    if edit.box is None:
        mask[:] = True
        return mask
    left, top, right, bottom = edit.box.pixels(width, height)
    mask[:, top:bottom, left:right] = True
    return mask


def dilate(mask: np.ndarray, pixels: int) -> np.ndarray:
    """`mask` (…, H, W) bool grown by `pixels` in every direction (a square max filter, done
    as two passes, across then down: 4·pixels + 2 shifts, not (2·pixels + 1)²)."""
    grown = mask.copy()
    if pixels <= 0:
        return grown
    for axis in (-1, -2):
        source = grown.copy()
        size = mask.shape[axis]
        for shift in range(1, min(pixels, size - 1) + 1):
            ahead = [slice(None)] * mask.ndim
            behind = [slice(None)] * mask.ndim
            ahead[axis], behind[axis] = slice(shift, None), slice(None, size - shift)
            grown[tuple(ahead)] |= source[tuple(behind)]
            grown[tuple(behind)] |= source[tuple(ahead)]
    return grown


def found_mask(finder: RegionFinder, frames: np.ndarray, words: str) -> np.ndarray:
    """Where the finder sees `words` in each frame, grown by DILATE_PX; RegionNotFound if none."""
    from PIL import Image

    found = finder.find([Image.fromarray(frame) for frame in frames], words)
    if found is None or not np.any(found):
        raise RegionNotFound(words)
    found = np.asarray(found, dtype=bool)
    if found.shape != frames.shape[:3]:
        raise ValueError(f"the region finder gave masks {found.shape}, not {frames.shape[:3]}")
    return dilate(found, DILATE_PX)


def expand_inputs(
    parent: np.ndarray, canvas: Canvas, overlap: int = OVERLAP_PX
) -> tuple[np.ndarray, np.ndarray]:
    """The parent's frames (already at the inner size) centred on a grey canvas, and the mask:
    white outside the inner area and `overlap` pixels into it."""
    left, top, inner_w, inner_h = canvas.inner
    if parent.shape[1:3] != (inner_h, inner_w):
        raise ValueError(f"the parent's frames are {parent.shape[1:3]}, not {(inner_h, inner_w)}")
    frames = np.full((len(parent), canvas.height, canvas.width, 3), GREY, dtype=np.uint8)
    frames[:, top : top + inner_h, left : left + inner_w] = parent
    mask = np.ones((len(parent), canvas.height, canvas.width), dtype=bool)
    keep_y = slice(top + overlap, top + inner_h - overlap)
    keep_x = slice(left + overlap, left + inner_w - overlap)
    mask[:, keep_y, keep_x] = False
    return frames, mask


def mask_images(mask: np.ndarray) -> list[Any]:
    """The masks as VACE reads them: one grey PIL image per frame, 255 = generate."""
    from PIL import Image

    return [Image.fromarray(np.where(frame, 255, 0).astype(np.uint8), "L") for frame in mask]


def mask_union_png(masks: Sequence[np.ndarray] | np.ndarray) -> bytes:
    """The union of the masks over time as a grey PNG (`mask.png`, kept with the child clip)."""
    import io

    from PIL import Image

    union = np.any(np.asarray(masks, dtype=bool), axis=0)
    out = io.BytesIO()
    Image.fromarray(np.where(union, 255, 0).astype(np.uint8), "L").save(out, format="PNG")
    return out.getvalue()
