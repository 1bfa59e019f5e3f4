"""Video headers written to pass the bot's checks with values no real file has."""

from __future__ import annotations

import struct

import pytest

from intake.media.videos import clip_frames, judge_video
from tests.harness.crafted import _TRACKS, _WEBM_HEADER, _ebml


def _webm(duration: float, blocks_ms: list[int]) -> bytes:
    """A WebM whose Info says `duration` (ms), with one video frame at each of `blocks_ms`."""
    info = _ebml(b"\x2a\xd7\xb1", (1_000_000).to_bytes(3, "big"))  # TimestampScale: 1 ms
    info += _ebml(b"\x44\x89", struct.pack(">d", duration))
    frames = b"".join(
        _ebml(b"\xa3", b"\x81" + struct.pack(">h", at) + b"\x80" + b"frame") for at in blocks_ms
    )
    cluster = _ebml(b"\x1f\x43\xb6\x75", _ebml(b"\xe7", b"\x00") + frames)
    segment = _ebml(b"\x15\x49\xa9\x66", info) + _TRACKS + cluster
    return _WEBM_HEADER + _ebml(b"\x18\x53\x80\x67", segment)


@pytest.mark.parametrize("duration", [float("nan"), float("inf"), float("-inf")])
def test_a_duration_that_is_no_number_is_read_from_the_frames(duration: float) -> None:
    """A Duration of NaN passed every check (NaN < 1 s is false) and /restyle's frame count
    then failed with "cannot convert float NaN to integer": the member read "Something went
    wrong". A Duration that is not finite counts as absent: the frames' timestamps give it."""
    info = judge_video(_webm(duration, [0, 500, 1000, 1500]), "odd.webm")
    assert info.duration_s == pytest.approx(2.0)
    assert clip_frames(info.duration_s, 16, asked=None, max_s=5) == 32
