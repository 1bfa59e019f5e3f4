"""A finished clip's video stream, packet for packet, with a new sound track beside it.

🔊 Add sound keeps the parent's picture exactly: its H.264 packets are copied, not decoded and
encoded again (which would cost time and lose a generation of quality), and the sound goes in as
one AAC-LC stream as `worker.encode` writes it, cut to the video's length and interleaved with
it by time. The new file carries the child's own tags (`worker.provenance`); the frames keep the
parent's watermark, since they are the parent's frames. Written next to `path` and moved into
place in one step, with the index first (`+faststart`), like every clip.
"""

from __future__ import annotations

import os
import tempfile
from collections import deque
from collections.abc import Mapping
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from worker.encode import AAC_FRAME, AAC_RATES, AUDIO_BIT_RATE_PER_CHANNEL, EncodedClip, fit_audio

_LAYOUTS = {1: "mono", 2: "stereo"}


def add_sound_track(
    source: Path,
    path: Path,
    audio: np.ndarray,
    sample_rate: int,
    *,
    metadata: Mapping[str, str] | None = None,
) -> EncodedClip:
    """`source`'s first video stream copied into `path` with `audio` (channels, samples) as its
    only sound, cut or padded to the video's length; any sound `source` had is left behind."""
    import av

    if audio.ndim != 2 or audio.shape[0] not in _LAYOUTS or sample_rate not in AAC_RATES:
        raise ValueError(
            f"audio of shape {audio.shape} at {sample_rate} Hz can't go into AAC; it takes 1 or "
            f"2 channels at one of {', '.join(map(str, sorted(AAC_RATES)))} Hz"
        )
    path = Path(path)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(tmp_name)
    os.chmod(tmp, 0o644)  # mkstemp makes it private; the gallery and the bot must read it
    try:
        with av.open(str(source)) as src:
            video = src.streams.video[0]
            seconds = _seconds(video)
            frames = _audio_frames(fit_audio(audio, sample_rate, seconds), sample_rate)
            with av.open(
                tmp_name, "w", format="mp4", container_options={"movflags": "+faststart"}
            ) as out:
                out.metadata.update(metadata or {})
                copied = out.add_stream_from_template(video)
                aac = out.add_stream("aac", rate=sample_rate)
                aac.layout, aac.format = _LAYOUTS[audio.shape[0]], "fltp"
                aac.bit_rate = AUDIO_BIT_RATE_PER_CHANNEL * audio.shape[0]
                count = _copy(src, video, out, copied, aac, frames, sample_rate)
                while frames:
                    out.mux(aac.encode(frames.popleft()))
                out.mux(aac.encode(None))
            width, height = video.codec_context.width, video.codec_context.height
            rate = float(video.average_rate or 0)
        with open(tmp, "rb") as written:
            os.fsync(written.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return EncodedClip(path, width, height, count, rate, path.stat().st_size)


def _copy(
    src: Any, video: Any, out: Any, copied: Any, aac: Any, frames: deque[Any], sample_rate: int
) -> int:
    """Every video packet into `out`, each preceded by the sound up to its time; the count of
    pictures copied."""
    count = 0
    for packet in src.demux(video):
        if packet.dts is None:  # the demuxer's end-of-stream marker
            continue
        at = packet.dts * video.time_base
        while frames and Fraction(frames[0].pts, sample_rate) <= at:
            out.mux(aac.encode(frames.popleft()))
        packet.stream = copied
        out.mux(packet)
        count += 1
    return count


def _seconds(video: Any) -> float:
    """The video stream's length: its frame count at its frame rate (what the encoder wrote)."""
    rate = video.average_rate
    if video.frames and rate:
        return float(video.frames / rate)
    if video.duration is not None:
        return float(video.duration * video.time_base)
    raise ValueError("the clip's video stream has no length to fit a sound track to")


def _audio_frames(audio: np.ndarray, sample_rate: int) -> deque[Any]:
    """The track as AAC-sized planar frames, each stamped with its first sample."""
    import av

    layout = _LAYOUTS[audio.shape[0]]
    frames: deque[Any] = deque()
    for start in range(0, audio.shape[1], AAC_FRAME):
        chunk = np.ascontiguousarray(audio[:, start : start + AAC_FRAME])
        frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout=layout)
        frame.sample_rate, frame.pts = sample_rate, start
        frame.time_base = Fraction(1, sample_rate)
        frames.append(frame)
    return frames
