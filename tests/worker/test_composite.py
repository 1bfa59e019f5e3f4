"""Putting an edit back over its parent: the parent's pixels, byte for byte, wherever the edit
did not reach; a soft seam just outside the edit; the mask kept as a PNG and outlined on the
moderators' contact sheet."""

from __future__ import annotations

import io
import itertools

import numpy as np
from PIL import Image

from worker.composite import FEATHER_PX, composite, feathered, reach
from worker.contact_sheet import OUTLINE, contact_sheet, tile_size
from worker.edit_masks import dilate, mask_union_png
from worker.scan import FrameScore

T, H, W = 3, 40, 60


def box(top: int, left: int, bottom: int, right: int) -> np.ndarray:
    mask = np.zeros((T, H, W), bool)
    mask[:, top:bottom, left:right] = True
    return mask


def test_outside_the_seam_is_the_parent_inside_the_mask_is_the_edit() -> None:
    rng = np.random.default_rng(0)
    parent = rng.integers(0, 255, (T, H, W, 3), np.uint8)
    generated = rng.integers(0, 255, (T, H, W, 3), np.uint8)
    mask = box(10, 20, 25, 40)
    out = composite(parent, generated, mask)
    beyond = ~reach(mask)
    assert np.array_equal(out[beyond], parent[beyond])
    assert np.array_equal(out[mask], generated[mask])
    seam = reach(mask) & ~mask
    assert not np.array_equal(out[seam], parent[seam])  # blended, not a hard edge


def test_the_seam_fades_outward_ring_by_ring() -> None:
    mask = box(15, 25, 20, 30)
    soft = feathered(mask)[0]
    row = soft[17, 30 : 30 + FEATHER_PX + 2]  # from the mask's right edge outward
    assert row[0] < 1.0 and row[-1] == 0.0
    assert all(a > b for a, b in itertools.pairwise(row[: FEATHER_PX + 1]))
    assert soft[17, 27] == 1.0


def test_no_feather_is_a_hard_edge() -> None:
    parent = np.zeros((T, H, W, 3), np.uint8)
    generated = np.full((T, H, W, 3), 200, np.uint8)
    mask = box(0, 0, H, 30)
    out = composite(parent, generated, mask, feather=0)
    assert (out[:, :, :30] == 200).all() and (out[:, :, 30:] == 0).all()


def test_dilate_grows_a_pixel_to_a_square() -> None:
    one = np.zeros((1, 9, 9), bool)
    one[0, 4, 4] = True
    grown = dilate(one, 2)
    assert grown.sum() == 25 and grown[0, 2:7, 2:7].all()


def test_the_mask_png_is_the_union_over_time() -> None:
    mask = np.zeros((T, H, W), bool)
    mask[0, :5, :5] = True
    mask[2, -5:, -5:] = True
    png = np.asarray(Image.open(io.BytesIO(mask_union_png(mask))))
    assert png.shape == (H, W) and png[:5, :5].min() == 255 and png[-5:, -5:].min() == 255
    assert png[10:30, 10:50].max() == 0


def test_an_edits_sheet_outlines_its_mask() -> None:
    frames = np.full((T, H, W, 3), 90, np.uint8)
    scores = [FrameScore(index=i, seconds=i / 16, scores={"nudity": 0.1}) for i in range(T)]
    mask = box(10, 15, 30, 45)
    tile_w, tile_h = tile_size(H, W)

    def first_tile(png: bytes) -> np.ndarray:
        return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))[:tile_h, :tile_w]

    outlined = first_tile(contact_sheet(frames, scores, mask=mask))
    plain = first_tile(contact_sheet(frames, scores))
    drawn = (outlined == OUTLINE).all(axis=-1)
    assert drawn.any() and not (plain == OUTLINE).all(axis=-1).any()
    rows, cols = np.nonzero(drawn)  # the outline is the box, scaled to the tile
    scale = tile_w / W
    assert abs(rows.min() - 10 * scale) <= 1 and abs(rows.max() - 30 * scale) <= 2
    assert abs(cols.min() - 15 * scale) <= 1 and abs(cols.max() - 45 * scale) <= 2
    assert not drawn[round(20 * scale), round(30 * scale)]  # the inside is the frame's
