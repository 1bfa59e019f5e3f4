"""The worker's reading of a member's video (/restyle, extend, upscale): upright, only the frames
the model takes, fitted as they are decoded, within a budget the upload can't lift, and a plain
message for the member (never a retry) when it can't be read or costs too much."""

from __future__ import annotations

import dataclasses
import struct
import tracemalloc
from pathlib import Path

import av
import numpy as np
import pytest

from tests.harness.bombs import grows_midway, picture_named_mp4, repeated_frame
from worker.encode import encode_mp4
from worker.media_budget import (
    MediaBudget,
    NotAVideo,
    OverBudget,
    UnreadableMedia,
    UnreadableVideo,
)
from worker.media_decode import ClipPlan, decode_clip
from worker.media_sandbox import read_clip, run
from worker.settings import WorkerConfig
from worker.tasks import PERMANENT_ERRORS, failure_reason


@pytest.fixture(scope="module")
def marked(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """2 s of 96×64 at 24 fps, a white patch in the top-left corner of every frame, and each
    frame's bottom half at a level that counts the frames (5 levels a frame)."""
    frames = np.zeros((48, 64, 96, 3), np.uint8)
    frames[:, :16, :16] = 255
    frames[:, 32:] = (np.arange(48) * 5 + 10)[:, None, None, None]
    path = tmp_path_factory.mktemp("video") / "marked.mp4"
    encode_mp4(frames, 24.0, path, fps=24, num_frames=48)
    return path


@pytest.fixture(scope="module")
def heavy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """400 frames of 4096×4096 at 240 fps in 70 KB: seconds of decoding, within the counts."""
    path = tmp_path_factory.mktemp("video") / "heavy.mp4"
    return repeated_frame(path, (4096, 4096), fps=240, frames=400)


def told(exc: BaseException) -> str:
    """What the member reads when their clip fails this way; it must never be retried."""
    assert isinstance(exc, PERMANENT_ERRORS)
    return failure_reason(exc, WorkerConfig())


def counter(frames: np.ndarray) -> list[int]:
    """Which source frame each frame is, read from its bottom half."""
    return [round((float(f[len(f) * 5 // 8 :].mean()) - 10) / 5) for f in frames]


def test_frames_are_read_at_the_models_size_and_rate(marked: Path) -> None:
    frames = read_clip(marked, ClipPlan(96, 64, 24, 100))
    assert frames.shape == (48, 64, 96, 3)
    assert frames[0, :16, :16].mean() > 200 and frames[0, :16, -16:].mean() < 50
    half = read_clip(marked, ClipPlan(48, 32, 12, 100))
    assert half.shape == (24, 32, 48, 3)  # 12 fps: every other frame, at half the size
    assert counter(half) == list(range(0, 48, 2))


def test_only_the_frames_the_model_takes_are_read(marked: Path) -> None:
    assert counter(read_clip(marked, ClipPlan(96, 64, 24, 12))) == list(range(12))
    assert counter(read_clip(marked, ClipPlan(96, 64, 24, 9, from_end=True))) == list(range(39, 48))


def test_a_phone_portrait_video_is_turned_upright(marked: Path, tmp_path: Path) -> None:
    data = bytearray(marked.read_bytes())
    tkhd = data.find(b"tkhd") + 4
    matrix = tkhd + (52 if data[tkhd] == 1 else 40)
    struct.pack_into(">iiiii", data, matrix, 0, 1 << 16, 0, -1 << 16, 0)  # a quarter turn cw
    turned = tmp_path / "portrait.mp4"
    turned.write_bytes(bytes(data))
    frames = read_clip(turned, ClipPlan(64, 96, 24, 48))
    assert frames.shape == (48, 96, 64, 3)
    assert frames[0, :16, -16:].mean() > 200  # the top-left patch, turned clockwise: top-right


def test_a_tiny_clip_at_240_fps_costs_the_models_input_not_its_frames(tmp_path: Path) -> None:
    """The probe's 60 KB clip at 240 fps decoded to 4.5 GB: now frames are dropped to the
    model's rate and fitted as they come, so what is held is the model's input."""
    clip = repeated_frame(tmp_path / "fast.mp4", (768, 768), fps=240, frames=481)
    assert clip.stat().st_size < 60_000
    plan = ClipPlan(128, 96, 16, 33)  # 2 s at 16 fps, of 481 frames
    tracemalloc.start()
    try:
        frames = decode_clip(clip, plan)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert frames.shape == (33, 96, 128, 3)
    assert peak < 3 * plan.nbytes + 4_000_000  # all 481 frames as arrays: 850 MB
    result, arrays = run("clip", clip, dataclasses.asdict(plan), MediaBudget(), keeps=plan.nbytes)
    assert arrays["frames"].shape == (33, 96, 128, 3)
    assert result["peak_mb"] < 400  # the child's own peak, decoder included


def test_frames_larger_than_the_header_says_are_refused_with_their_size(tmp_path: Path) -> None:
    """The bot reads the header (96×64 here); the frames after a third of the clip are
    4352×4352. Each decoded frame is checked, so the member is told what the file really is."""
    clip = grows_midway(tmp_path / "grows.mp4", (96, 64), (4352, 4352))
    with pytest.raises(OverBudget) as caught:
        read_clip(clip, ClipPlan(96, 64, 16, 20))
    reason = told(caught.value)
    assert "4352×4352 pixels (its header says 96×64)" in reason
    assert "larger than the 4096×4096 I can take" in reason and "H.264 MP4" in reason


def test_too_many_pixels_in_all_is_over_budget(tmp_path: Path) -> None:
    clip = repeated_frame(tmp_path / "big.mp4", (2048, 2048), fps=240, frames=300)
    budget = MediaBudget(max_pixels=500_000_000)  # 119 of these frames
    with pytest.raises(OverBudget) as caught:
        read_clip(clip, ClipPlan(96, 64, 16, 20), budget)
    assert "more frames than I decode for one clip" in told(caught.value)


@pytest.mark.parametrize(
    ("limit", "said"),
    [
        ({"cpu_s": 1}, "(1 s of CPU time)"),
        ({"memory_bytes": 300 * 1024 * 1024}, "(300 MB of memory)"),
        ({"wall_s": 0.3}, "(0.3 s)"),
    ],
)
def test_the_child_is_stopped_at_its_cpu_memory_and_time_limits(
    heavy: Path, limit: dict[str, float], said: str
) -> None:
    """The frame and pixel counts allow this file; the child's own limits stop it."""
    with pytest.raises(OverBudget) as caught:
        read_clip(heavy, ClipPlan(96, 64, 16, 20), MediaBudget(**limit))  # type: ignore[arg-type]
    assert said in told(caught.value)


def test_a_picture_named_mp4_is_not_a_video(tmp_path: Path) -> None:
    picture = picture_named_mp4(tmp_path / "holiday.mp4")
    with pytest.raises(NotAVideo) as caught:
        read_clip(picture, ClipPlan(96, 64, 16, 20))
    assert "your file is a PNG picture, not a video" in told(caught.value)


def test_a_codec_reelbot_does_not_decode_is_refused_by_name(tmp_path: Path) -> None:
    path = tmp_path / "motion.mkv"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mjpeg", rate=24)
        stream.width, stream.height, stream.pix_fmt = 96, 64, "yuvj420p"
        for _ in range(24):
            picture = np.zeros((64, 96, 3), np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(picture, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    with pytest.raises(UnreadableVideo) as caught:
        read_clip(path, ClipPlan(96, 64, 16, 20))
    assert "couldn't be decoded: it is mjpeg, which I don't read" in told(caught.value)


def test_an_undecodable_video_fails_the_clip_in_the_members_words(tmp_path: Path) -> None:
    damaged = tmp_path / "damaged.mp4"
    damaged.write_bytes(b"\x00\x00\x00\x18ftypisom" + bytes(5000))
    with pytest.raises(UnreadableVideo) as caught:
        read_clip(damaged, ClipPlan(96, 64, 16, 20))
    reason = told(caught.value)
    assert "couldn't be decoded" in reason and "H.264 MP4" in reason
    assert str(tmp_path) not in reason and "damaged.mp4" not in reason


def test_every_refusal_is_a_members_message_never_retried() -> None:
    for error in (UnreadableVideo, NotAVideo, OverBudget):
        exc = error("what was wrong", "what to send")
        assert isinstance(exc, UnreadableMedia) and isinstance(exc, PERMANENT_ERRORS)
        assert told(exc) == "what was wrong; what to send"
