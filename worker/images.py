"""Conditioning images for image-to-video: read from the media store, fitted to the clip's size.

The bot stores every member's image as a normalised RGB PNG (see `bot/media/images.py`), and
the spec's width and height are already on the backend's grid, with an aspect ratio close to
the image's. What is left is to make the two agree exactly, and the choice here is to **center
crop to the clip's aspect ratio, then resize** (Lanczos): nothing is stretched, and what is cut
off is the same amount from both edges. Padding (letterboxing) would put bars the model would
then animate; stretching distorts faces. Backends share this so every model frames a picture
the same way.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageOps


def fit_image(path: Path, width: int, height: int) -> Image.Image:
    """The RGB image at `path`, center-cropped to `width`:`height` and resized to exactly that."""
    if width < 1 or height < 1:
        raise ValueError(f"width={width} and height={height} must both be positive")
    with Image.open(path) as opened:
        opened.seek(0)  # a still image: the first frame, whatever the file holds
        rgb = opened.convert("RGB")
    return ImageOps.fit(rgb, (width, height), method=Image.Resampling.LANCZOS, centering=(0.5, 0.5))
