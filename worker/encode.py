"""Frames to an H.264 MP4 that plays inline in Discord and browsers, written with PyAV.

diffusers' `export_to_video` leaves the MP4 index (moov) at the end of the file and takes no
options, so we write the file ourselves: libx264, yuv420p (the only 4:2:0 layout every browser
decodes), even dimensions, `+faststart` so the index comes before the media data and playback can
start while downloading, and a constant frame rate whose time base decodes to exactly `fps`.

The backend renders at its native rate (8 fps for the tiny model); the encoder resamples in time
to the requested rate by blending the two nearest source frames in proportion to their distance.
At 8 -> 24 fps that puts two crossfaded frames between each pair of source frames, which reads as
smoother motion than repeating each frame three times (the cost: slight ghosting on fast moves).

Output bytes are deterministic: x264 is deterministic unless told otherwise, but its output
depends on its thread count, so the count is fixed rather than taken from the machine's cores.

Sound (`-sound`, backends whose `Capabilities.sound` is true): the backend's waveform, float
samples (channels, samples) starting with the first frame, goes in as one AAC-LC stream (FFmpeg's
native encoder, the codec every browser and Discord play inside MP4). It is cut or padded with
silence to the video's length after resampling, num_frames / fps, so picture and sound end
together; its packets are interleaved with the video's by time, so playback can start early.
"""

from __future__ import annotations

import os
import tempfile
from collections import deque
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

# Fixed so that every worker, whatever its core count, writes the same bytes for the same frames.
X264_THREADS = 4
# veryfast: about 2x faster than medium on these machines at a similar size for this content;
# on a GPU worker the CPU encode would otherwise rival the render itself.
X264_PRESET = "veryfast"
# Shares of the cap tried as the average bit rate when fitting (the container and rate
# control overshoot a little), and the rate below which a clip is not worth posting.
FIT_SHARES = (0.9, 0.7, 0.5)
MIN_FIT_BIT_RATE = 100_000
POSTER_SIDE = 640
# The gallery grid's preview: small, short and light, since a page plays a dozen at once.
PREVIEW_SIDE = 360
PREVIEW_SECONDS = 3.0
PREVIEW_BIT_RATE = 250_000
# AVCOL_PRI_BT709 / AVCOL_TRC_BT709 / AVCOL_SPC_BT709 and AVCOL_RANGE_MPEG (limited range).
_BT709 = 1
_LIMITED_RANGE = 1
# AAC-LC at 64 kb/s a channel: transparent enough for generated sound, small beside the video.
AUDIO_BIT_RATE_PER_CHANNEL = 64_000
AAC_FRAME = 1024  # samples per AAC frame
AAC_RATES = frozenset({96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000})
_LAYOUTS = {1: "mono", 2: "stereo"}


@dataclass(frozen=True)
class EncodedClip:
    """What was written (or read back): enough for the bot to post it and the gallery to list it."""

    path: Path
    width: int
    height: int
    num_frames: int
    fps: float
    size_bytes: int


def resample_plan(
    source_frames: int, source_fps: float, fps: int, num_frames: int
) -> list[tuple[int, int, float]]:
    """For each output frame: (earlier source index, later source index, weight of the later).

    Output frame j sits at time j / fps; past the last source frame the last one is held.
    """
    plan = []
    last = source_frames - 1
    for j in range(num_frames):
        position = min(j * source_fps / fps, float(last))
        before = int(position)
        weight = position - before
        if weight < 1e-6:
            plan.append((before, before, 0.0))
        else:
            plan.append((before, min(before + 1, last), weight))
    return plan


def _resampled(frames: np.ndarray, plan: list[tuple[int, int, float]]) -> Iterator[np.ndarray]:
    """Yield output frames one at a time, so a long HD clip never sits in memory as floats."""
    for before, after, weight in plan:
        if weight == 0.0:
            yield frames[before]
        else:
            mixed = frames[before].astype(np.float32) * (1.0 - weight)
            mixed += frames[after].astype(np.float32) * weight
            yield np.clip(np.round(mixed), 0, 255).astype(np.uint8)


def fit_audio(audio: np.ndarray, sample_rate: int, seconds: float) -> np.ndarray:
    """`audio` (channels, samples) cut, or padded with silence, to `seconds`, as float32 in
    [-1, 1]: the sound track then lasts exactly as long as the picture it goes with."""
    wanted = round(seconds * sample_rate)
    fitted = np.zeros((audio.shape[0], wanted), np.float32)
    kept = min(wanted, audio.shape[1])
    fitted[:, :kept] = np.clip(audio[:, :kept], -1.0, 1.0)
    return fitted


def _check_audio(audio: np.ndarray, sample_rate: int | None) -> None:
    if audio.ndim != 2 or audio.shape[0] not in _LAYOUTS or not audio.shape[1]:
        raise ValueError(
            f"audio must be float samples of shape (channels, samples) with 1 or 2 channels, "
            f"got {audio.dtype} {audio.shape}"
        )
    if not np.issubdtype(audio.dtype, np.floating):
        raise ValueError(f"audio must be float samples in [-1, 1], got {audio.dtype}")
    if sample_rate not in AAC_RATES:
        raise ValueError(
            f"sample_rate={sample_rate} can't go into AAC; use one of "
            f"{', '.join(map(str, sorted(AAC_RATES)))}"
        )


def _audio_frames(audio: np.ndarray, sample_rate: int) -> list[Any]:
    """The whole track as AAC-sized planar frames, each stamped with its first sample."""
    import av

    layout = _LAYOUTS[audio.shape[0]]
    frames = []
    for start in range(0, audio.shape[1], AAC_FRAME):
        chunk = np.ascontiguousarray(audio[:, start : start + AAC_FRAME])
        frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout=layout)
        frame.sample_rate, frame.pts, frame.time_base = sample_rate, start, Fraction(1, sample_rate)
        frames.append(frame)
    return frames


def _check(frames: np.ndarray, source_fps: float, fps: int, num_frames: int, crf: int) -> None:
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise ValueError(
            f"frames must be uint8 of shape (T, H, W, 3), got {frames.dtype} {frames.shape}"
        )
    if frames.shape[0] < 1 or frames.shape[1] < 2 or frames.shape[2] < 2:
        raise ValueError(f"frames shape {frames.shape} has no picture to encode")
    if source_fps <= 0:
        raise ValueError(f"source_fps={source_fps} must be positive")
    if fps < 1:
        raise ValueError(f"fps={fps} must be a positive integer")
    if num_frames < 1:
        raise ValueError(f"num_frames={num_frames} must be at least 1")
    if not 0 <= crf <= 51:
        raise ValueError(f"crf={crf} must be in 0-51")


def encode_mp4(
    frames: np.ndarray,
    source_fps: float,
    path: Path,
    *,
    fps: int,
    num_frames: int,
    crf: int = 20,
    bit_rate: int | None = None,
    metadata: Mapping[str, str] | None = None,
    audio: np.ndarray | None = None,
    sample_rate: int | None = None,
) -> EncodedClip:
    """Encode uint8 RGB `frames` (T, H, W, 3) at `source_fps` to exactly `num_frames` at `fps`.

    `metadata` becomes the file's tags (`moov/udta`, before the media data like the rest of
    the index); see `worker.provenance.ClipProvenance.tags`. `audio` (channels, samples) at
    `sample_rate`, when given, becomes an AAC stream as long as the video; without it the file
    has no audio stream at all.

    An odd width or height loses its last column or row (yuv420p needs even sizes). The file is
    written next to `path` and moved into place in one step, so `path` is either absent or whole.
    """
    import av  # here, not at the top: the bot's CLI probes files without the worker extras
    from av.video.reformatter import ColorRange, Colorspace

    _check(frames, source_fps, fps, num_frames, crf)
    sound: deque[Any] = deque()
    rate = 0
    if audio is not None:
        _check_audio(audio, sample_rate)
        rate = int(sample_rate or 0)  # checked: one of AAC_RATES
        sound.extend(_audio_frames(fit_audio(audio, rate, num_frames / fps), rate))
    height, width = frames.shape[1] - frames.shape[1] % 2, frames.shape[2] - frames.shape[2] % 2
    frames = frames[:, :height, :width]
    plan = resample_plan(frames.shape[0], source_fps, fps, num_frames)
    path = Path(path)
    time_base = Fraction(1, fps)

    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(tmp_name)
    os.chmod(tmp, 0o644)  # mkstemp makes it private; the gallery and the bot must read it
    try:
        with av.open(
            tmp_name, "w", format="mp4", container_options={"movflags": "+faststart"}
        ) as container:
            container.metadata.update(metadata or {})
            stream = container.add_stream("libx264", rate=fps)
            stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
            codec = stream.codec_context
            codec.time_base = time_base
            codec.thread_count = X264_THREADS
            codec.color_primaries = codec.color_trc = codec.colorspace = _BT709
            codec.color_range = _LIMITED_RANGE
            if bit_rate is None:
                stream.options = {"crf": str(crf), "preset": X264_PRESET}
            else:  # a size target: average bit rate, with a cap on peaks
                stream.bit_rate = bit_rate
                stream.options = {
                    "preset": X264_PRESET,
                    "maxrate": str(bit_rate),
                    "bufsize": str(bit_rate),
                }
            if sound:
                channels = len(sound[0].layout.channels)
                aac = container.add_stream("aac", rate=rate)
                aac.layout, aac.format = _LAYOUTS[channels], "fltp"
                aac.bit_rate = AUDIO_BIT_RATE_PER_CHANNEL * channels
            for index, rgb in enumerate(_resampled(frames, plan)):
                frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
                frame = frame.reformat(
                    format="yuv420p",
                    dst_colorspace=Colorspace.ITU709,
                    dst_color_range=ColorRange.MPEG,
                )
                frame.pts, frame.time_base = index, time_base
                container.mux(stream.encode(frame))
                # The sound up to the end of this picture, so the two streams stay interleaved.
                while sound and sound[0].pts * fps < (index + 1) * rate:
                    container.mux(aac.encode(sound.popleft()))
            container.mux(stream.encode(None))
            if rate:
                while sound:
                    container.mux(aac.encode(sound.popleft()))
                container.mux(aac.encode(None))
        with open(tmp, "rb") as written:
            os.fsync(written.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return EncodedClip(
        path=path,
        width=width,
        height=height,
        num_frames=num_frames,
        fps=float(fps),
        size_bytes=path.stat().st_size,
    )


def encode_to_fit(
    frames: np.ndarray,
    source_fps: float,
    path: Path,
    *,
    fps: int,
    num_frames: int,
    max_bytes: int,
    metadata: Mapping[str, str] | None = None,
    audio: np.ndarray | None = None,
    sample_rate: int | None = None,
) -> EncodedClip | None:
    """A copy no larger than `max_bytes` (an upload cap), at the highest bit rate that fits
    within a few tries; None if even a heavily compressed copy would not fit. The sound, if
    any, is kept as it is: its fixed bit rate comes out of the video's budget."""
    seconds = num_frames / fps
    audio_bit_rate = 0 if audio is None else AUDIO_BIT_RATE_PER_CHANNEL * audio.shape[0]
    for share in FIT_SHARES:
        bit_rate = int(max_bytes * 8 * share / seconds) - audio_bit_rate
        if bit_rate < MIN_FIT_BIT_RATE:
            break
        clip = encode_mp4(
            frames,
            source_fps,
            path,
            fps=fps,
            num_frames=num_frames,
            bit_rate=bit_rate,
            metadata=metadata,
            audio=audio,
            sample_rate=sample_rate,
        )
        if clip.size_bytes <= max_bytes:
            return clip
    path.unlink(missing_ok=True)
    return None


def write_preview(
    frames: np.ndarray,
    source_fps: float,
    path: Path,
    *,
    fps: int,
    num_frames: int,
    max_side: int = PREVIEW_SIDE,
    max_seconds: float = PREVIEW_SECONDS,
    bit_rate: int = PREVIEW_BIT_RATE,
    metadata: Mapping[str, str] | None = None,
) -> EncodedClip:
    """The gallery grid's copy: the clip's first `max_seconds` at `fps`, scaled down (never up)
    to `max_side` on the long side, at a low bit rate; video only and `+faststart`, like every
    file here. Made from the same frames as the clip (so the watermark is in it too)."""
    from PIL import Image

    if max_side < 2 or max_seconds <= 0:
        raise ValueError(f"max_side={max_side}, max_seconds={max_seconds} leave no preview")
    out_frames = max(1, min(num_frames, int(max_seconds * fps)))
    # Only the source frames those output frames blend from (the last one and its successor).
    needed = min(len(frames), int((out_frames - 1) * source_fps / fps) + 2)
    height, width = frames.shape[1], frames.shape[2]
    scale = min(1.0, max_side / max(height, width))
    size = (max(2, round(width * scale / 2) * 2), max(2, round(height * scale / 2) * 2))
    source = frames[:needed]
    if size != (width, height):
        source = np.stack(
            [np.asarray(Image.fromarray(f).resize(size, Image.Resampling.LANCZOS)) for f in source]
        )
    return encode_mp4(
        source,
        source_fps,
        path,
        fps=fps,
        num_frames=out_frames,
        bit_rate=bit_rate,
        metadata=metadata,
    )


def write_poster(frames: np.ndarray, path: Path, *, max_side: int = POSTER_SIDE) -> Path:
    """The middle frame as a JPEG: the clip's still for link previews and over-cap posts."""
    from PIL import Image

    picture = Image.fromarray(frames[len(frames) // 2])
    picture.thumbnail((max_side, max_side))
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        picture.save(tmp_name, format="JPEG", quality=85)
        os.chmod(tmp_name, 0o644)
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return path


def probe_mp4(path: Path) -> EncodedClip:
    """Read back the first video stream's size, frame count and average frame rate."""
    import av

    path = Path(path)
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        num_frames = stream.frames or sum(1 for _ in container.decode(stream))
        rate = stream.average_rate
        return EncodedClip(
            path=path,
            width=stream.codec_context.width,
            height=stream.codec_context.height,
            num_frames=num_frames,
            fps=float(rate) if rate else 0.0,
            size_bytes=path.stat().st_size,
        )
