"""Conditioning images for image-to-video: read from the media store, fitted to the clip's size.

The bot stores every member's image as a normalised RGB PNG (see `intake/media/images.py`), and
the spec's width and height are already on the backend's grid, with an aspect ratio close to
the image's. What is left is to make the two agree exactly, and the choice here is to **center
crop to the clip's aspect ratio, then resize** (Lanczos): nothing is stretched, and what is cut
off is the same amount from both edges. Padding (letterboxing) would put bars the model would
then animate; stretching distorts faces. Backends share this so every model frames a picture
the same way.

The file is still read as untrusted input: only the formats the bot takes (PNG, JPEG, WebP,
GIF) are opened, and a picture larger than any the bot takes (`MAX_SIDE` a side) is refused
from its header before a pixel is decoded, so it costs at most one 4096×4096 picture of memory.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

from worker.media_budget import MAX_SIDE, UnreadableImage

FORMATS = ("PNG", "JPEG", "WEBP", "GIF")  # what the bot takes; it stores PNG
RESEND = "send it again as a PNG or JPEG"


def fit_image(path: Path, width: int, height: int) -> Image.Image:
    """The RGB image at `path`, center-cropped to `width`:`height` and resized to exactly that.

    UnreadableImage (the member's message) for a file that is no picture we read, is larger
    than `MAX_SIDE` on a side, or fails to decode."""
    if width < 1 or height < 1:
        raise ValueError(f"width={width} and height={height} must both be positive")
    rgb = read_picture(path)
    return ImageOps.fit(rgb, (width, height), method=Image.Resampling.LANCZOS, centering=(0.5, 0.5))


def read_picture(path: Path) -> Image.Image:
    """The whole RGB picture at `path`, read as `fit_image` reads it (for a reference picture,
    which the pipeline fits itself, so a character is never cropped)."""
    try:
        with Image.open(path, formats=FORMATS) as opened:
            if max(opened.size) > MAX_SIDE:
                raise _too_large(f"is {opened.width}×{opened.height} pixels")
            opened.seek(0)  # a still image: the first frame, whatever the file holds
            rgb = opened.convert("RGB")
    except Image.DecompressionBombError:  # Pillow's own check, in `open`: over 179 million pixels
        raise _too_large("has far too many pixels") from None
    except (UnidentifiedImageError, OSError, SyntaxError):
        raise UnreadableImage("your picture couldn't be read (it may be damaged)", RESEND) from None
    return rgb


def _too_large(what: str) -> UnreadableImage:
    return UnreadableImage(
        f"your picture {what}, larger than the {MAX_SIDE}×{MAX_SIDE} I can take",
        "send a smaller one",
    )
