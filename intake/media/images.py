"""Pictures members attach to `/animate`: fetched with a cap, judged by content, re-encoded.

Nothing about an attachment is trusted but its pixels. The type is what Pillow finds in the
bytes, never the file name or the declared content type, so a text file named `cat.png` is
refused. Each check fails with its own `UserFacingError` that says what was wrong and how to
fix it, in the order a member would want to hear it:

1. the declared size, before a byte is downloaded (Discord computes it, so it is honest);
2. the download itself, with a timeout (Discord wants an answer within 3 s), and the bytes'
   real size;
3. the header: a format we take (PNG, JPEG, WebP, GIF: the first frame of an animation) and
   dimensions within bounds, read *before* any pixel is decoded, so a decompression bomb (a
   small file that claims a huge picture) is refused unopened;
4. a full decode (`verify()` for structure, then `load()` for every pixel), which catches
   truncated and corrupt files.

What passes is re-encoded by Pillow into a clean RGB PNG: EXIF rotation applied (phones store
portraits sideways), transparency flattened onto white, anything past `STORED_MAX_SIDE`
scaled down, and no metadata carried over (no EXIF, no GPS, no colour profile: pixels are read
as sRGB). That PNG, never the member's bytes, is what the media store keeps.

Pure apart from the download, which takes anything with `size`, `filename` and `async read()`
(a `discord.Attachment`), so it is tested without Discord.
"""

from __future__ import annotations

import asyncio
import io
import logging
import math
from dataclasses import dataclass
from typing import Protocol

from PIL import Image, ImageOps, UnidentifiedImageError

from core.errors import UserFacingError
from core.spec import MAX_ASPECT, MIN_ASPECT

log = logging.getLogger(__name__)

MiB = 1024 * 1024
MAX_BYTES = 10 * MiB
MIN_SIDE = 64
MAX_SIDE = 4096
MAX_PIXELS = MAX_SIDE * MAX_SIDE  # far below Pillow's own bomb limit, and checked first
STORED_MAX_SIDE = 2048  # more than any backend renders at; keeps stored inputs small
DOWNLOAD_TIMEOUT_S = 2.0  # for a caller that can't defer; /animate defers and waits longer
_ORIENTATION = 0x0112  # the EXIF tag
# Pillow format name -> what members call it.
FORMATS = {"PNG": "PNG", "JPEG": "JPEG", "WEBP": "WebP", "GIF": "GIF"}
ACCEPTED = "PNG, JPEG, WebP or GIF"
# The ratios an image is snapped to: the common ones, each within the spec's 0.4-2.5 bounds.
RATIOS = ("16:9", "9:16", "1:1", "4:5", "5:4", "4:3", "3:4", "3:2", "2:3", "21:9", "9:21")


class AttachmentError(UserFacingError):
    """The attached picture can't be used; the message says why and what to do instead."""


class AttachmentTooLarge(AttachmentError):
    pass


class DownloadFailed(AttachmentError):
    pass


class NotAnImage(AttachmentError):
    pass


class BrokenImage(AttachmentError):
    pass


class ImageTooSmall(AttachmentError):
    pass


class ImageDimensionsTooLarge(AttachmentError):
    pass


class Downloadable(Protocol):
    """What the download needs of an attachment; `discord.Attachment` is one."""

    filename: str
    size: int

    async def read(self) -> bytes: ...


@dataclass(frozen=True)
class CheckedImage:
    """A picture that passed every check: the normalised PNG and what the member sent."""

    png: bytes
    width: int  # of `png`
    height: int
    source_format: str  # as members call it: PNG, JPEG, WebP, GIF
    source_width: int  # upright (EXIF rotation applied), before any scaling down
    source_height: int


def shown_name(filename: str) -> str:
    """A member's file name, safe to quote back in an inline code span."""
    flat = " ".join(filename.replace("`", "'").split()) or "your image"
    return flat if len(flat) <= 60 else flat[:59] + "…"


def _megabytes(size: int) -> str:
    return f"{size / MiB:.1f} MB"


def check_declared_size(
    filename: str,
    size: int,
    *,
    max_bytes: int = MAX_BYTES,
    subject: str = "pictures for /animate",
    advice: str = "Save it smaller (a JPEG, or fewer pixels) and attach it again.",
) -> None:
    """Refuse a file too large to take before downloading any of it; `subject` and `advice`
    word the refusal for the command (`intake.media.videos` takes videos)."""
    if size > max_bytes:
        raise AttachmentTooLarge(
            f"`{shown_name(filename)}` is {_megabytes(size)}; {subject} can be at "
            f"most {_megabytes(max_bytes)}. {advice}"
        )


async def download(
    attachment: Downloadable,
    *,
    max_bytes: int = MAX_BYTES,
    timeout_s: float = DOWNLOAD_TIMEOUT_S,
    **wording: str,
) -> bytes:
    """The attachment's bytes: declared size checked first, then a bounded read, then the size
    of what actually arrived. `wording`: `subject`/`advice` of `check_declared_size`."""
    name = attachment.filename
    check_declared_size(name, attachment.size, max_bytes=max_bytes, **wording)
    try:
        data = await asyncio.wait_for(attachment.read(), timeout_s)
    except TimeoutError:
        raise DownloadFailed(
            f"Downloading `{shown_name(name)}` from Discord took too long. Please try again."
        ) from None
    except Exception as exc:  # discord.HTTPException, aiohttp errors: all mean "not fetched"
        log.warning("could not download attachment %r: %r", name, exc)
        raise DownloadFailed(
            f"I couldn't download `{shown_name(name)}` from Discord. Please attach it again."
        ) from None
    check_declared_size(name, len(data), max_bytes=max_bytes, **wording)
    return data


def check_image(data: bytes, filename: str = "image") -> CheckedImage:
    """Judge `data` by its content and return it as a clean PNG, or raise an AttachmentError.

    Blocking (decodes and encodes pixels): call it in a thread.
    """
    name = shown_name(filename)
    check_declared_size(filename, len(data))
    try:
        # Only our four formats are even tried: Pillow's rarer decoders never see member bytes.
        with Image.open(io.BytesIO(data), formats=list(FORMATS)) as probe:
            kind, width, height = _check_header(probe, name)
            probe.verify()  # structure and checksums, without decoding pixels
        with Image.open(io.BytesIO(data), formats=[probe.format or ""]) as image:
            image.seek(0)  # verify() left `probe` unusable; this is a fresh read
            image.draft("RGB", (STORED_MAX_SIDE, STORED_MAX_SIDE))  # JPEG: decode smaller
            image.load()
            turned = image.getexif().get(_ORIENTATION, 1) in (5, 6, 7, 8)
            rgb = _flatten(ImageOps.exif_transpose(image))
    except UnidentifiedImageError:
        raise NotAnImage(
            f"`{name}` isn't a {ACCEPTED} picture, whatever its name says. Save or export it "
            "as PNG or JPEG and attach it again."
        ) from None
    except Image.DecompressionBombError:
        raise _too_large_dimensions(name) from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:  # what Pillow raises for damage
        log.info("undecodable attachment %r: %r", filename, exc)
        raise BrokenImage(
            f"`{name}` looks damaged or incomplete: it couldn't be decoded. Export or save it "
            "again and attach the new file."
        ) from None
    rgb.thumbnail((STORED_MAX_SIDE, STORED_MAX_SIDE), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    rgb.save(out, format="PNG", compress_level=1)  # speed over size: the answer is due in 3 s
    return CheckedImage(
        png=out.getvalue(),
        width=rgb.width,
        height=rgb.height,
        source_format=kind,
        source_width=height if turned else width,
        source_height=width if turned else height,
    )


def _check_header(image: Image.Image, name: str) -> tuple[str, int, int]:
    """Format and dimensions from the header alone: no pixel is decoded yet."""
    kind = FORMATS.get(image.format or "")
    if kind is None:  # `formats=` already keeps others out; never trust that silently
        raise NotAnImage(f"`{name}` isn't a {ACCEPTED} picture. Attach one of those.")
    width, height = image.size
    if width > MAX_SIDE or height > MAX_SIDE or width * height > MAX_PIXELS:
        raise _too_large_dimensions(name, f"{width}×{height}")
    if width < MIN_SIDE or height < MIN_SIDE:
        raise ImageTooSmall(
            f"`{name}` is only {width}×{height} pixels; /animate needs at least "
            f"{MIN_SIDE}×{MIN_SIDE}. Attach a larger picture."
        )
    return kind, width, height


def _too_large_dimensions(name: str, size: str | None = None) -> ImageDimensionsTooLarge:
    says = f"is {size} pixels" if size else "has far too many pixels"
    return ImageDimensionsTooLarge(
        f"`{name}` {says}; /animate takes at most {MAX_SIDE} pixels on a side. "
        "Scale it down and attach it again."
    )


def _flatten(image: Image.Image) -> Image.Image:
    """Plain 8-bit RGB with no metadata; transparent parts become white, as viewers show them."""
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "F"):  # 16-bit or float greyscale
        image = image.convert("I").point(lambda value: value * (1 / 256)).convert("L")
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, rgba)
    rgb = image.convert("RGB")
    rgb.info = {}  # no EXIF, GPS, text chunks or colour profile follow the pixels
    return rgb


def nearest_ratio(width: int, height: int) -> str:
    """The ratio from RATIOS closest to width:height (on a log scale, so 2:1 and 1:2 are as far
    from 1:1); a picture wider or taller than the spec allows gets the widest or tallest."""
    if width <= 0 or height <= 0:
        raise ValueError(f"width={width} and height={height} must both be positive")
    target = math.log(min(max(width / height, MIN_ASPECT), MAX_ASPECT))

    def distance(ratio: str) -> float:
        w, h = (int(part) for part in ratio.split(":"))
        return abs(math.log(w / h) - target)

    return min(RATIOS, key=distance)


def framing_note(
    width: int, height: int, ratio: str, *, asked: bool = False, noun: str = "picture"
) -> str:
    """One line telling the member which aspect ratio the clip has and why."""
    w, h = (int(part) for part in ratio.split(":"))
    if asked:
        return f"Your {width}×{height} {noun} is center-cropped to {ratio}, as asked."
    if abs(width / height - w / h) < 0.01:
        return f"Aspect ratio {ratio}, as your {width}×{height} {noun}."
    return (
        f"Aspect ratio {ratio}, the closest to your {width}×{height} {noun} "
        "(its edges are center-cropped to fit)."
    )
