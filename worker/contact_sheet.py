"""The contact sheet: a held clip's sampled frames in one image, each with its scores.

A moderator decides from one picture in the review channel instead of opening a video: tiles
left to right, top to bottom in frame order, each captioned with the frame's number, time and
its highest categories. The grid (columns × rows) is also written into the PNG as the text
chunk `reelbot:grid`, so tools and tests can read it without measuring. An edit's sheet outlines
its mask on every tile (`OUTLINE`), so a moderator sees what the edit changed.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence

import numpy as np

from worker.scan import FrameScore

TILE_SIDE = 240  # a tile's longer side, pixels
CAPTION_H = 34
MAX_COLUMNS = 4
BACKGROUND = (24, 24, 28)
GRID_KEY = "reelbot:grid"
OUTLINE = (0, 255, 255)  # an edit's mask, outlined on each tile


def grid_for(count: int) -> tuple[int, int]:
    """Columns and rows for `count` tiles: up to four across, as square as that allows."""
    if count <= 0:
        return 0, 0
    columns = min(MAX_COLUMNS, count)
    return columns, math.ceil(count / columns)


def tile_size(height: int, width: int) -> tuple[int, int]:
    """(width, height) of a tile: the frame's aspect, its longer side TILE_SIDE."""
    scale = TILE_SIDE / max(height, width)
    return max(1, round(width * scale)), max(1, round(height * scale))


def caption(score: FrameScore, top: int = 2) -> tuple[str, str]:
    """Two lines: where the frame is, then its highest categories."""
    ranked = sorted(score.scores.items(), key=lambda item: -item[1])[:top]
    return (
        f"#{score.index} · {score.seconds:.1f} s",
        "  ".join(f"{name} {value:.2f}" for name, value in ranked) or "no scores",
    )


def outline(mask: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(height, width) bool of a tile `size` (width, height): the edge of `mask` (H, W) bool
    scaled to it, one pixel wide, inside the masked area."""
    from PIL import Image

    scaled = (
        np.asarray(
            Image.fromarray(mask.astype(np.uint8) * 255).resize(size, Image.Resampling.NEAREST)
        )
        > 127
    )
    inner = scaled.copy()
    inner[1:, :] &= scaled[:-1, :]
    inner[:-1, :] &= scaled[1:, :]
    inner[:, 1:] &= scaled[:, :-1]
    inner[:, :-1] &= scaled[:, 1:]
    return scaled & ~inner


def contact_sheet(
    frames: np.ndarray | Mapping[int, np.ndarray],
    scores: Sequence[FrameScore],
    *,
    mask: np.ndarray | None = None,
) -> bytes:
    """PNG bytes of the frames `scores` name (by index into `frames`), tiled with captions;
    an edit's `mask` (T, H, W) bool outlined on each tile (its frame's, or the last one's)."""
    from PIL import Image, ImageDraw, ImageFont
    from PIL.PngImagePlugin import PngInfo

    columns, rows = grid_for(len(scores))
    if not columns:
        raise ValueError("a contact sheet needs at least one scored frame")
    first = frames[scores[0].index]
    tile_w, tile_h = tile_size(first.shape[0], first.shape[1])
    cell_h = tile_h + CAPTION_H
    sheet = Image.new("RGB", (columns * tile_w, rows * cell_h), BACKGROUND)
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default(size=12)
    for n, score in enumerate(scores):
        x, y = (n % columns) * tile_w, (n // columns) * cell_h
        pixels = np.array(Image.fromarray(frames[score.index]).resize((tile_w, tile_h)))
        if mask is not None and len(mask):
            pixels[outline(mask[min(score.index, len(mask) - 1)], (tile_w, tile_h))] = OUTLINE
        tile = Image.fromarray(pixels)
        sheet.paste(tile, (x, y))
        where, what = caption(score)
        draw.text((x + 4, y + tile_h + 2), where, fill=(230, 230, 230), font=font)
        draw.text((x + 4, y + tile_h + 17), what, fill=(255, 200, 120), font=font)
    info = PngInfo()
    info.add_text(GRID_KEY, f"{columns}x{rows}")
    out = io.BytesIO()
    sheet.save(out, format="PNG", pnginfo=info, optimize=True)
    return out.getvalue()
