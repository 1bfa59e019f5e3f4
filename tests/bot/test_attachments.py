"""Attachments for /animate are judged by their bytes, and every refusal says what to fix."""

from __future__ import annotations

import asyncio
import io
import struct
import zlib
from dataclasses import dataclass

import pytest
from PIL import Image

from core.errors import UserFacingError
from intake.media.images import (
    MAX_BYTES,
    AttachmentError,
    AttachmentTooLarge,
    BrokenImage,
    DownloadFailed,
    ImageDimensionsTooLarge,
    ImageTooSmall,
    NotAnImage,
    check_image,
    download,
    framing_note,
    nearest_ratio,
    shown_name,
)
from intake.modes import DEFAULT_PROMPT, animate_prompt


def encoded(
    fmt: str, size: tuple[int, int] = (320, 240), mode: str = "RGB", **save: object
) -> bytes:
    image = Image.new(mode, size, (200, 40, 40) if mode == "RGB" else None)
    out = io.BytesIO()
    image.save(out, format=fmt, **save)
    return out.getvalue()


def forged_png(width: int, height: int) -> bytes:
    """A valid 64×64 PNG whose header claims another size (checksum fixed, so it reads as real):
    what a decompression bomb looks like before any pixel is decoded."""
    data = bytearray(encoded("PNG", (64, 64)))
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    return bytes(data)


PNG = encoded("PNG")


@pytest.mark.parametrize(
    "name, data, size, fmt",
    [
        ("cat.png", PNG, (320, 240), "PNG"),
        ("cat.jpg", encoded("JPEG", quality=90), (320, 240), "JPEG"),
        ("cat.webp", encoded("WEBP"), (320, 240), "WebP"),
        ("cat.gif", encoded("GIF", mode="RGB"), (320, 240), "GIF"),
        ("misnamed.gif", PNG, (320, 240), "PNG"),  # the name says GIF, the bytes say PNG
        ("tall.png", encoded("PNG", (64, 4096)), (64, 4096), "PNG"),
    ],
)
def test_pictures_in_our_formats_become_a_clean_png(
    name: str, data: bytes, size: tuple[int, int], fmt: str
) -> None:
    checked = check_image(data, name)

    assert checked.source_format == fmt
    assert (checked.source_width, checked.source_height) == size
    with Image.open(io.BytesIO(checked.png)) as stored:
        assert stored.format == "PNG" and stored.mode == "RGB"
        assert stored.size == (checked.width, checked.height)
        assert max(stored.size) <= 2048
        assert abs(stored.width / stored.height - size[0] / size[1]) < 0.02


@pytest.mark.parametrize(
    "name, data, error, words",
    [
        (
            "notes.png",
            b"these are my notes, not a picture\n" * 20,
            NotAnImage,
            ["notes.png", "PNG"],
        ),
        ("empty.png", b"", NotAnImage, ["empty.png"]),
        ("cat.bmp", encoded("BMP"), NotAnImage, ["cat.bmp", "PNG, JPEG, WebP or GIF"]),
        ("cat.tiff", encoded("TIFF"), NotAnImage, ["cat.tiff"]),
        ("cut.png", PNG[: len(PNG) // 2], BrokenImage, ["cut.png", "damaged or incomplete"]),
        ("cut.jpg", encoded("JPEG")[:600], BrokenImage, ["cut.jpg", "damaged"]),
        ("dot.png", encoded("PNG", (10, 10)), ImageTooSmall, ["10×10", "at least 64×64"]),
        ("strip.png", encoded("PNG", (640, 40)), ImageTooSmall, ["640×40"]),
        ("wide.png", forged_png(5000, 100), ImageDimensionsTooLarge, ["5000×100", "4096"]),
        ("bomb.png", forged_png(4000, 4097), ImageDimensionsTooLarge, ["4000×4097"]),
        ("huge.png", forged_png(100_000, 100_000), ImageDimensionsTooLarge, ["4096 pixels"]),
        ("big.png", b"\x89PNG" + bytes(MAX_BYTES), AttachmentTooLarge, ["10.0 MB"]),
    ],
)
def test_each_problem_gets_its_own_friendly_error(
    name: str, data: bytes, error: type[AttachmentError], words: list[str]
) -> None:
    with pytest.raises(error) as caught:
        check_image(data, name)
    assert isinstance(caught.value, UserFacingError)
    message = str(caught.value)
    for word in words:
        assert word in message
    assert "Traceback" not in message and "PIL" not in message


def test_transparency_becomes_white_and_no_metadata_is_kept() -> None:
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # camera make; GPS would sit in the same block
    rgba = Image.new("RGBA", (100, 80), (0, 0, 0, 0))
    out = io.BytesIO()
    rgba.save(out, format="PNG", exif=exif, pnginfo=None)

    checked = check_image(out.getvalue(), "clear.png")

    with Image.open(io.BytesIO(checked.png)) as stored:
        assert stored.getpixel((5, 5)) == (255, 255, 255)
        assert "exif" not in stored.info and not stored.getexif()


def test_phone_photos_are_turned_upright() -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # stored sideways, shown turned 90°
    data = encoded("JPEG", (400, 300), exif=exif)

    checked = check_image(data, "portrait.jpg")

    assert (checked.source_width, checked.source_height) == (300, 400)
    assert (checked.width, checked.height) == (300, 400)


def test_large_pictures_are_stored_at_most_2048_on_a_side() -> None:
    checked = check_image(encoded("PNG", (4096, 3072)), "big.png")
    assert (checked.width, checked.height) == (2048, 1536)
    assert (checked.source_width, checked.source_height) == (4096, 3072)


@dataclass
class FakeAttachment:
    filename: str
    size: int
    data: bytes = b""
    delay: float = 0.0
    fail: bool = False
    reads: int = 0

    async def read(self) -> bytes:
        self.reads += 1
        await asyncio.sleep(self.delay)
        if self.fail:
            raise ConnectionResetError("peer went away")
        return self.data


async def test_download_returns_the_bytes() -> None:
    attachment = FakeAttachment("cat.png", len(PNG), PNG)
    assert await download(attachment) == PNG


async def test_a_too_large_declared_size_is_refused_before_downloading() -> None:
    attachment = FakeAttachment("movie.png", 25 * 1024 * 1024)
    with pytest.raises(AttachmentTooLarge, match=r"25\.0 MB.*10\.0 MB"):
        await download(attachment)
    assert attachment.reads == 0


@pytest.mark.parametrize(
    "attachment, error, words",
    [
        (FakeAttachment("a.png", 10, bytes(MAX_BYTES + 1)), AttachmentTooLarge, "10.0 MB"),
        (FakeAttachment("a.png", 10, PNG, delay=5), DownloadFailed, "took too long"),
        (FakeAttachment("a.png", 10, PNG, fail=True), DownloadFailed, "couldn't download"),
    ],
)
async def test_download_failures_are_friendly(
    attachment: FakeAttachment, error: type[AttachmentError], words: str
) -> None:
    with pytest.raises(error, match=words):
        await download(attachment, timeout_s=0.2)


@pytest.mark.parametrize(
    "size, ratio",
    [
        ((1920, 1080), "16:9"),
        ((1080, 1920), "9:16"),
        ((1000, 1000), "1:1"),
        ((1024, 768), "4:3"),
        ((1200, 800), "3:2"),
        ((1080, 1350), "4:5"),
        ((1170, 2532), "9:21"),  # a phone screenshot
        ((3000, 1000), "21:9"),  # wider than any: the widest
        ((100, 1000), "9:21"),  # taller than any: the tallest
    ],
)
def test_the_nearest_common_ratio_is_picked(size: tuple[int, int], ratio: str) -> None:
    assert nearest_ratio(*size) == ratio


def test_the_framing_note_says_what_happened() -> None:
    assert framing_note(1024, 768, "4:3") == "Aspect ratio 4:3, as your 1024×768 picture."
    assert "closest" in framing_note(3000, 1000, "21:9")
    assert "cropped" in framing_note(3000, 1000, "21:9")
    assert "as asked" in framing_note(1024, 768, "9:16", asked=True)


@pytest.mark.parametrize(
    "text, prompt",
    [
        (None, DEFAULT_PROMPT),
        ("", DEFAULT_PROMPT),
        ("   ", DEFAULT_PROMPT),
        ("-motion 3 -camera zoom in", f"{DEFAULT_PROMPT} -motion 3 -camera zoom in"),
        ("the cat blinks -motion 3", "the cat blinks -motion 3"),
        ('"-50% sale" sign flickers', '"-50% sale" sign flickers'),
        ("a sci-fi city", "a sci-fi city"),
    ],
)
def test_a_missing_description_gets_the_default_prompt(text: str | None, prompt: str) -> None:
    assert animate_prompt(text) == prompt


def test_member_file_names_are_safe_to_quote() -> None:
    assert shown_name("a`b`c.png") == "a'b'c.png"
    assert shown_name("") == "your image"
    assert len(shown_name("x" * 500 + ".png")) == 60
