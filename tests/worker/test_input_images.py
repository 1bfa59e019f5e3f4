"""The worker's reading of a member's picture (/animate): only the formats the bot takes, never
larger than it takes, and a plain message for the member (never a retry) otherwise."""

from __future__ import annotations

import io
import struct
from pathlib import Path

import pytest
from PIL import Image

from worker.images import fit_image
from worker.media_budget import UnreadableImage
from worker.settings import WorkerConfig
from worker.tasks import PERMANENT_ERRORS, failure_reason


def told(exc: BaseException) -> str:
    assert isinstance(exc, PERMANENT_ERRORS)
    return failure_reason(exc, WorkerConfig())


def test_a_picture_larger_than_the_bot_takes_is_refused_from_its_header(tmp_path: Path) -> None:
    """5000×8 would pass Pillow's own bomb check; it is refused before a pixel is decoded."""
    wide = tmp_path / "wide.png"
    Image.new("RGB", (5000, 8)).save(wide)
    with pytest.raises(UnreadableImage) as caught:
        fit_image(wide, 64, 64)
    assert told(caught.value) == (
        "your picture is 5000×8 pixels, larger than the 4096×4096 I can take; send a smaller one"
    )


def test_a_picture_claiming_billions_of_pixels_is_too_large_not_damaged(tmp_path: Path) -> None:
    """A JPEG whose header says 65500×65500: Pillow refuses it in `open`, before our own size
    check, and the member was told it may be damaged."""
    small = io.BytesIO()
    Image.new("RGB", (64, 64)).save(small, format="JPEG")
    data = bytearray(small.getvalue())
    frame = data.find(b"\xff\xc0") + 5  # start of frame: precision, then height and width
    struct.pack_into(">HH", data, frame, 65500, 65500)
    huge = tmp_path / "huge.jpg"
    huge.write_bytes(bytes(data))
    with pytest.raises(UnreadableImage) as caught:
        fit_image(huge, 64, 64)
    assert told(caught.value) == (
        "your picture has far too many pixels, larger than the 4096×4096 I can take; "
        "send a smaller one"
    )


@pytest.mark.parametrize("content", [b"not a picture at all", b"\x89PNG\r\n\x1a\n" + bytes(40)])
def test_a_file_that_is_no_picture_we_read_says_so(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "input.png"
    path.write_bytes(content)
    with pytest.raises(UnreadableImage) as caught:
        fit_image(path, 64, 64)
    reason = told(caught.value)
    assert reason.startswith("your picture couldn't be read") and "PNG or JPEG" in reason
    assert "input.png" not in reason and str(tmp_path) not in reason


def test_a_format_the_bot_never_takes_is_not_opened(tmp_path: Path) -> None:
    path = tmp_path / "input.png"
    Image.new("RGB", (80, 60)).save(path, format="TIFF")
    with pytest.raises(UnreadableImage):
        fit_image(path, 64, 64)
