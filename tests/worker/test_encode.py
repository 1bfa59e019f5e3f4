"""The MP4s the worker writes play inline: H.264, yuv420p, exact frame count and rate, faststart."""

from __future__ import annotations

import itertools
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from tests.harness.video import decoded_means, gray_frames, top_level_boxes
from worker import encode
from worker.encode import EncodedClip, encode_mp4, probe_mp4


def test_encoded_clip_is_h264_yuv420p_at_exact_rate_and_count(tmp_path: Path) -> None:
    frames = gray_frames(list(range(0, 160, 10)))  # 16 frames: 2 s at 8 fps
    out = tmp_path / "clip.mp4"

    clip = encode_mp4(frames, 8.0, out, fps=24, num_frames=48)

    assert clip == EncodedClip(out, 64, 48, 48, 24.0, out.stat().st_size)
    with av.open(str(out)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
        assert stream.codec_context.pix_fmt == "yuv420p"
        assert (stream.codec_context.width, stream.codec_context.height) == (64, 48)
        assert stream.average_rate == Fraction(24)
        assert sum(1 for _ in container.decode(stream)) == 48
    assert probe_mp4(out) == clip


def test_index_precedes_media_data_for_inline_play(tmp_path: Path) -> None:
    out = tmp_path / "clip.mp4"
    encode_mp4(gray_frames([0, 50, 100]), 8.0, out, fps=8, num_frames=3)

    boxes = top_level_boxes(out)

    assert boxes[0] == "ftyp"
    assert boxes.index("moov") < boxes.index("mdat")


def test_resampling_8_to_24_fps_blends_neighbours_in_source_order(tmp_path: Path) -> None:
    levels = [20 + 25 * i for i in range(9)]  # 9 frames at 8 fps: 20, 45, ..., 220
    out = tmp_path / "clip.mp4"

    encode_mp4(gray_frames(levels), 8.0, out, fps=24, num_frames=27, crf=4)

    means = decoded_means(out)
    assert len(means) == 27
    # Output frame j shows time j/24, i.e. source position j/3: every third frame is a source
    # frame, the two between are blends; past the last source frame it is held.
    expected = [min(20 + 25 * j / 3, 220) for j in range(27)]
    assert means == pytest.approx(expected, abs=3)
    assert all(a <= b + 0.5 for a, b in itertools.pairwise(means))


def test_resampling_down_skips_frames_in_order(tmp_path: Path) -> None:
    levels = list(range(0, 240, 10))  # 24 frames at 24 fps
    out = tmp_path / "clip.mp4"

    encode_mp4(gray_frames(levels), 24.0, out, fps=8, num_frames=8, crf=4)

    assert decoded_means(out) == pytest.approx([0, 30, 60, 90, 120, 150, 180, 210], abs=3)


def test_odd_sizes_lose_one_row_and_column(tmp_path: Path) -> None:
    out = tmp_path / "odd.mp4"

    clip = encode_mp4(gray_frames([10, 20], height=47, width=65), 8.0, out, fps=8, num_frames=2)

    assert (clip.width, clip.height) == (64, 46)
    assert (probe_mp4(out).width, probe_mp4(out).height) == (64, 46)


def test_write_is_atomic_and_leaves_no_temp_file(tmp_path: Path) -> None:
    out = tmp_path / "clip.mp4"
    encode_mp4(gray_frames([0, 100]), 8.0, out, fps=8, num_frames=2)

    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mp4"]


def test_failed_encode_keeps_previous_file_and_cleans_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "clip.mp4"
    out.write_bytes(b"the previous clip")

    def dies_midway(frames: np.ndarray, plan: list) -> object:
        yield frames[0]
        raise RuntimeError("worker killed")

    monkeypatch.setattr(encode, "_resampled", dies_midway)
    with pytest.raises(RuntimeError, match="worker killed"):
        encode_mp4(gray_frames([0, 100, 200]), 8.0, out, fps=8, num_frames=3)

    assert out.read_bytes() == b"the previous clip"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mp4"]


def test_same_frames_give_identical_bytes(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, (9, 64, 96, 3), dtype=np.uint8)

    a = encode_mp4(frames, 8.0, tmp_path / "a.mp4", fps=24, num_frames=24)
    b = encode_mp4(frames, 8.0, tmp_path / "b.mp4", fps=24, num_frames=24)

    assert a.path.read_bytes() == b.path.read_bytes()


@pytest.mark.parametrize(
    ("frames", "kwargs", "message"),
    [
        (np.zeros((2, 48, 64, 3), np.float32), {}, "uint8"),
        (np.zeros((2, 48, 64), np.uint8), {}, "shape"),
        (np.zeros((2, 48, 64, 3), np.uint8), {"num_frames": 0}, "num_frames=0"),
        (np.zeros((2, 48, 64, 3), np.uint8), {"crf": 60}, "crf=60"),
    ],
)
def test_bad_input_is_refused_by_name(
    tmp_path: Path, frames: np.ndarray, kwargs: dict, message: str
) -> None:
    args = {"fps": 8, "num_frames": 2} | kwargs
    with pytest.raises(ValueError, match=message):
        encode_mp4(frames, 8.0, tmp_path / "x.mp4", **args)
    assert list(tmp_path.iterdir()) == []


def noise(frames: int = 17, height: int = 288, width: int = 512) -> np.ndarray:
    """Incompressible frames: the worst case for fitting under a cap."""
    return np.random.default_rng(0).integers(0, 256, (frames, height, width, 3), dtype=np.uint8)


def test_a_copy_is_fitted_under_an_upload_cap(tmp_path: Path) -> None:
    frames = noise()
    full = encode_mp4(frames, 8, tmp_path / "full.mp4", fps=24, num_frames=48)
    cap = full.size_bytes // 10
    small = encode.encode_to_fit(
        frames, 8, tmp_path / "small.mp4", fps=24, num_frames=48, max_bytes=cap
    )
    assert small is not None and small.size_bytes <= cap
    again = probe_mp4(small.path)
    assert (again.width, again.height, again.num_frames, again.fps) == (512, 288, 48, 24.0)


def test_a_cap_nothing_watchable_fits_under_gives_no_copy(tmp_path: Path) -> None:
    path = tmp_path / "small.mp4"
    assert encode.encode_to_fit(noise(), 8, path, fps=24, num_frames=48, max_bytes=5_000) is None
    assert not path.exists()


def test_the_poster_is_the_middle_frame_scaled_down(tmp_path: Path) -> None:
    frames = gray_frames([10, 128, 240], height=720, width=1280)
    path = encode.write_poster(frames, tmp_path / "poster.jpg", max_side=640)
    from PIL import Image

    with Image.open(path) as picture:
        assert picture.format == "JPEG" and picture.size == (640, 360)
        assert abs(np.asarray(picture).mean() - 128) < 3


def tone(seconds: float, rate: int = 24000, channels: int = 2, hz: float = 440.0) -> np.ndarray:
    """A sine at half scale, (channels, samples) float32: what a backend's vocoder hands over."""
    t = np.arange(round(seconds * rate)) / rate
    return np.repeat((0.5 * np.sin(2 * np.pi * hz * t))[None], channels, 0).astype(np.float32)


def decoded_audio(path: Path) -> tuple[list, np.ndarray]:
    """The file's audio streams, and the first one decoded to (channels, samples) floats."""
    with av.open(str(path)) as container:
        streams = list(container.streams.audio)
        if not streams:
            return streams, np.zeros((0, 0), np.float32)
        chunks = [f.to_ndarray() for f in container.decode(streams[0])]
    return streams, np.concatenate(chunks, axis=1)


@pytest.mark.parametrize("seconds", [1.5, 2.0, 2.5])  # shorter, as long as, longer than the video
def test_sound_is_one_aac_stream_cut_or_padded_to_the_video(tmp_path: Path, seconds: float) -> None:
    out = tmp_path / "clip.mp4"
    encode_mp4(
        gray_frames(list(range(0, 160, 10))),  # 16 frames at 8 fps -> 48 at 24: 2 s
        8.0,
        out,
        fps=24,
        num_frames=48,
        audio=tone(seconds),
        sample_rate=24000,
    )

    streams, samples = decoded_audio(out)
    [stream] = streams
    assert (stream.codec_context.name, stream.sample_rate, stream.channels) == ("aac", 24000, 2)
    one_frame = encode.AAC_FRAME / 24000
    assert abs(float(stream.duration * stream.time_base) - 2.0) <= one_frame
    assert abs(samples.shape[1] / 24000 - 2.0) <= one_frame
    assert probe_mp4(out).num_frames == 48  # the picture is untouched

    def loudness(start: float, end: float) -> float:
        part = samples[:, int(start * 24000) : int(end * 24000)]
        return float(np.sqrt(np.mean(part**2)))

    assert abs(loudness(0.1, 1.4) - 0.5 / np.sqrt(2)) < 0.05  # the tone, at its level
    if seconds < 2.0:
        assert loudness(1.6, 2.0) < 0.01  # padded with silence, not looped or stretched


def test_without_sound_there_is_no_audio_stream(tmp_path: Path) -> None:
    out = tmp_path / "clip.mp4"
    encode_mp4(gray_frames([0, 100, 200]), 8.0, out, fps=8, num_frames=3)

    streams, _ = decoded_audio(out)
    assert streams == []


def test_sound_is_interleaved_with_the_picture_and_deterministic(tmp_path: Path) -> None:
    """Packets alternate by time, so a player streaming the file gets both from the start."""
    frames = np.random.default_rng(0).integers(0, 256, (17, 64, 96, 3), dtype=np.uint8)
    a, b = (
        encode_mp4(
            frames,
            8.0,
            tmp_path / name,
            fps=24,
            num_frames=48,
            audio=tone(2.0, 16000, 1),
            sample_rate=16000,
        )
        for name in ("a.mp4", "b.mp4")
    )

    assert a.path.read_bytes() == b.path.read_bytes()
    with av.open(str(a.path)) as container:
        kinds = [p.stream.type for p in container.demux() if p.size]
    first_half = kinds[: len(kinds) // 2]
    assert "audio" in first_half and "video" in first_half
    assert top_level_boxes(a.path).index("moov") < top_level_boxes(a.path).index("mdat")


def test_the_fitted_copy_keeps_the_sound(tmp_path: Path) -> None:
    frames = noise()
    full = encode_mp4(
        frames, 8, tmp_path / "full.mp4", fps=24, num_frames=48, audio=tone(2.0), sample_rate=24000
    )
    cap = full.size_bytes // 10

    small = encode.encode_to_fit(
        frames,
        8,
        tmp_path / "small.mp4",
        fps=24,
        num_frames=48,
        max_bytes=cap,
        audio=tone(2.0),
        sample_rate=24000,
    )

    assert small is not None and small.size_bytes <= cap
    streams, samples = decoded_audio(small.path)
    [stream] = streams
    assert stream.codec_context.name == "aac"
    assert abs(samples.shape[1] / 24000 - 2.0) <= encode.AAC_FRAME / 24000


@pytest.mark.parametrize(
    ("audio", "sample_rate", "message"),
    [
        (np.zeros((3, 1000), np.float32), 24000, "1 or 2 channels"),
        (np.zeros(1000, np.float32), 24000, "shape"),
        (np.zeros((2, 1000), np.int16), 24000, "float"),
        (np.zeros((2, 1000), np.float32), 5000, "sample_rate=5000"),
        (np.zeros((2, 1000), np.float32), None, "sample_rate=None"),
    ],
)
def test_bad_audio_is_refused_by_name(
    tmp_path: Path, audio: np.ndarray, sample_rate: int | None, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        encode_mp4(
            gray_frames([0, 100]),
            8.0,
            tmp_path / "x.mp4",
            fps=8,
            num_frames=2,
            audio=audio,
            sample_rate=sample_rate,
        )
    assert list(tmp_path.iterdir()) == []
