"""The worker's reading of a member's video (/restyle): upright, no more than needed, and a
plain message for the member when FFmpeg can't decode it."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest

from worker.backends.common import UnreadableVideo, read_video
from worker.encode import encode_mp4
from worker.settings import WorkerConfig
from worker.tasks import failure_reason


@pytest.fixture(scope="module")
def marked(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """2 s of 96×64 at 24 fps, a white patch in the top-left corner of every frame."""
    frames = np.zeros((48, 64, 96, 3), np.uint8)
    frames[:, :16, :16] = 255
    path = tmp_path_factory.mktemp("video") / "marked.mp4"
    encode_mp4(frames, 24.0, path, fps=24, num_frames=48)
    return path


def test_frames_are_read_with_their_rate(marked: Path) -> None:
    frames, fps = read_video(marked)
    assert frames.shape == (48, 64, 96, 3) and fps == 24.0
    assert frames[0, :16, :16].mean() > 200 and frames[0, -16:, -16:].mean() < 50


def test_a_phone_portrait_video_is_turned_upright(marked: Path, tmp_path: Path) -> None:
    data = bytearray(marked.read_bytes())
    tkhd = data.find(b"tkhd") + 4
    matrix = tkhd + (52 if data[tkhd] == 1 else 40)
    struct.pack_into(">iiiii", data, matrix, 0, 1 << 16, 0, -1 << 16, 0)  # a quarter turn cw
    turned = tmp_path / "portrait.mp4"
    turned.write_bytes(bytes(data))
    frames, _fps = read_video(turned)
    assert frames.shape == (48, 96, 64, 3)
    assert frames[0, :16, -16:].mean() > 200  # the top-left patch, turned clockwise: top-right


def test_decoding_stops_past_what_the_clip_needs(marked: Path) -> None:
    frames, _fps = read_video(marked, max_seconds=0.5)
    assert 12 <= len(frames) <= 14


def test_an_undecodable_video_fails_the_clip_in_the_members_words(tmp_path: Path) -> None:
    damaged = tmp_path / "damaged.mp4"
    damaged.write_bytes(b"\x00\x00\x00\x18ftypisom" + bytes(5000))
    with pytest.raises(UnreadableVideo) as caught:
        read_video(damaged)
    reason = failure_reason(caught.value, WorkerConfig())
    assert "couldn't be decoded" in reason and "H.264 MP4" in reason
    assert str(tmp_path) not in reason and "damaged.mp4" not in reason
