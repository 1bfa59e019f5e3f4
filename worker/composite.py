"""An edit's frames put back together: the parent's pixels wherever the edit did not reach.

VACE regenerates the whole frame through its VAE, so even the pixels it was told to keep come
back slightly changed. Compositing puts the parent back: output = parent·(1−soft) +
generated·soft, where `soft` is 1 on the edit's mask and fades to 0 over `feather` pixels
*outside* it, so the seam is soft and every pixel beyond the mask grown by `feather` is the
parent's, byte for byte. An expand's inner area is the resized parent exactly (no feather: the
generated border already overlapped it when VACE drew it, `worker.edit_masks.OVERLAP_PX`).
"""

from __future__ import annotations

from typing import Final

import numpy as np

from worker.edit_masks import dilate

FEATHER_PX: Final = 6


def feathered(mask: np.ndarray, feather: int = FEATHER_PX) -> np.ndarray:
    """(T, H, W) float32 in [0, 1]: 1 on `mask`, a ramp down over `feather` rings outside it,
    0 beyond (`mask` grown by `feather`)."""
    soft = mask.astype(np.float32)
    grown = mask
    for ring in range(1, feather + 1):
        wider = dilate(grown, 1)
        soft[wider & ~grown] = 1.0 - ring / (feather + 1)
        grown = wider
    return soft


def composite(
    parent: np.ndarray, generated: np.ndarray, mask: np.ndarray, feather: int = FEATHER_PX
) -> np.ndarray:
    """uint8 (T, H, W, 3): the generated frames on the mask, the parent's elsewhere (see above).
    `parent` and `generated` are uint8 frames of one size; `mask` (T, H, W) bool."""
    if parent.shape != generated.shape or mask.shape != parent.shape[:3]:
        raise ValueError(
            f"can't composite: parent {parent.shape}, generated {generated.shape}, "
            f"mask {mask.shape}"
        )
    soft = feathered(mask, feather)[..., None]
    blend = parent.astype(np.float32) * (1.0 - soft) + generated.astype(np.float32) * soft
    mixed = np.clip(np.round(blend), 0, 255).astype(np.uint8)
    return np.where(soft > 0, mixed, parent)


def reach(mask: np.ndarray, feather: int = FEATHER_PX) -> np.ndarray:
    """Every pixel a composite may change: the mask grown by the feather."""
    return dilate(mask, feather)
