"""Decoding an untrusted video as a stream, within a `MediaBudget`, in this process.

Nothing about the file is trusted: not its name (a PNG renamed `.mp4` is `NotAVideo`), not its
container (FFmpeg may open only the MP4/MOV and Matroska/WebM demuxers the bot accepts), not its
codec (only the decoders in `CODECS`), not its header's size (each *decoded* frame is checked
against the budget before anything converts it) and not its frame rate (frames are picked by
their timestamps). Frames are fitted to the model's input as they come (`frame.reformat`, so a
huge frame never becomes a huge array), and only the frames the clip uses are kept: memory is
the model's input, whatever the upload. `worker.media_sandbox` runs these in a child process
with the budget's CPU, time and memory limits; call them directly only on a child's side.
"""

from __future__ import annotations

import contextlib
import logging
import math
from collections import deque
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from worker.media_budget import (
    DAMAGED,
    DEFAULT_BUDGET,
    NO_FRAMES,
    MediaBudget,
    NotAVideo,
    UnreadableVideo,
    frame_too_large,
    too_costly,
    too_many_frames,
)

log = logging.getLogger(__name__)

# FFmpeg's demuxers for the containers the bot takes (intake/media/videos.py: MP4, MOV, WebM, MKV).
FORMATS = "mov,matroska"
# Decoders for what phones, browsers and editors put in those: H.264, HEVC, VP8, VP9, AV1,
# MPEG-4 Part 2. Nothing else is opened, by the probe or by us.
CODECS = ("h264", "hevc", "vp8", "vp9", "av1", "libdav1d", "mpeg4")
# A frame over the budget is decoded once, then refused with its size; one this much larger
# still is refused by FFmpeg before it allocates it (then the message can't name its size).
HARD_STOP = 4
SCAN_SIDE = 1280  # frames sampled for the output scan fit in this square (our clips do whole)
# A frame whose scaled cover is more than this many times the clip's size is cropped first.
LOPSIDED = 4

# What a file that is no video is, by its first bytes: named for the member.
_PICTURES = {
    b"\x89PNG": "a PNG picture",
    b"\xff\xd8\xff": "a JPEG picture",
    b"GIF8": "a GIF",
    b"BM": "a BMP picture",
    b"II*\x00": "a TIFF picture",
    b"MM\x00*": "a TIFF picture",
}
_VIDEO_BOXES = (b"ftyp", b"moov", b"mdat", b"free", b"wide", b"skip")  # MP4 / MOV
_EBML = b"\x1a\x45\xdf\xa3"  # Matroska / WebM


def sniff(head: bytes) -> str | None:
    """What a file's first bytes say it is when that is no video we take; None otherwise."""
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "a WebP picture"
    for magic, what in _PICTURES.items():
        if head.startswith(magic):
            return what
    if head[4:8] in _VIDEO_BOXES or head.startswith(_EBML):
        return None
    return "not a video I can read (not an MP4, MOV, WebM or MKV file)"


def _not_a_video(what: str) -> NotAVideo:
    send = "send an MP4, MOV, WebM or MKV video"
    if what.startswith("not "):
        return NotAVideo(f"your file is {what}", send)
    return NotAVideo(f"your file is {what}, not a video, whatever its name says", send)


@contextlib.contextmanager
def open_video(path: Path, budget: MediaBudget = DEFAULT_BUDGET) -> Iterator[tuple[Any, Any]]:
    """(container, its video stream), opened with only our demuxers and decoders, the
    decoder told to refuse frames far over the budget. Raises the UnreadableVideo family."""
    with Path(path).open("rb") as file:
        head = file.read(16)
    if (what := sniff(head)) is not None:
        raise _not_a_video(what)
    import av

    whitelist = {
        "format_whitelist": FORMATS,
        "codec_whitelist": ",".join(CODECS),
        "protocol_whitelist": "file",
    }
    try:
        container = av.open(str(path), container_options=whitelist)
    except MemoryError:
        raise too_costly("memory") from None
    except (av.FFmpegError, OSError) as exc:
        log.info("input video %s could not be opened: %s", Path(path).name, exc)
        raise UnreadableVideo(DAMAGED) from None
    with container:
        if not container.streams.video:
            raise UnreadableVideo("your file has no picture track", "send a video with one")
        stream = container.streams.video[0]
        context = stream.codec_context
        if context is None:  # a codec FFmpeg doesn't know at all
            raise UnreadableVideo(DAMAGED)
        if context.name not in CODECS:
            raise UnreadableVideo(
                f"your video couldn't be decoded: it is {context.name}, which I don't read"
            )
        if context.width * context.height > budget.max_frame_pixels:
            raise frame_too_large(context.width, context.height, None, budget)
        context.options = {"max_pixels": str(HARD_STOP * budget.max_frame_pixels)}
        context.thread_count = budget.threads
        context.thread_type = "AUTO"
        yield container, stream


def checked_frames(container: Any, stream: Any, budget: MediaBudget) -> Iterator[Any]:
    """The stream's decoded frames (PyAV VideoFrames), each checked against the budget on the
    frame itself, counting frames and pixels as they come."""
    import av

    declared = (stream.codec_context.width, stream.codec_context.height)
    frames = pixels = 0
    try:
        for frame in container.decode(stream):
            frames += 1
            size = frame.width * frame.height
            if size > budget.max_frame_pixels:
                raise frame_too_large(frame.width, frame.height, declared, budget)
            pixels += size
            if frames > budget.max_frames or pixels > budget.max_pixels:
                raise too_many_frames(budget)
            yield frame
    except MemoryError:  # av.error.MemoryError too: FFmpeg's ENOMEM under the sandbox's limit
        raise too_costly("memory") from None
    except av.FFmpegError as exc:
        log.info("input video stopped decoding after %d frames: %s", frames, exc)
        raise UnreadableVideo(DAMAGED) from None


@dataclass(frozen=True)
class ClipPlan:
    """What a model takes from a video: `frames` frames at `fps`, each center-cropped to
    `width`:`height` and resized to it; the first ones, or the last (`from_end`)."""

    width: int
    height: int
    fps: float
    frames: int
    from_end: bool = False

    @property
    def nbytes(self) -> int:
        return self.frames * self.width * self.height * 3


def decode_clip(path: Path, plan: ClipPlan, budget: MediaBudget = DEFAULT_BUDGET) -> np.ndarray:
    """Up to `plan.frames` frames, uint8 RGB (T, height, width, 3), upright (phones store
    portrait video sideways, with a rotation a player applies), picked nearest in time."""
    if plan.width < 1 or plan.height < 1 or plan.frames < 1 or plan.fps <= 0:
        raise ValueError(f"{plan} must have a positive size, frame count and rate")
    kept, seeked = _read(path, plan, budget, seek=plan.from_end)
    if seeked and len(kept) < plan.frames:
        # The container's length is its longest track's (a sound track may outlast the
        # picture): a seek near its end can land past the video's last keyframe.
        kept, _ = _read(path, plan, budget, seek=False)
    if not kept:
        raise UnreadableVideo(NO_FRAMES)
    return np.stack(kept)


def _read(
    path: Path, plan: ClipPlan, budget: MediaBudget, *, seek: bool
) -> tuple[deque[np.ndarray], bool]:
    """One pass over the video for `decode_clip`: the frames kept, and whether it seeked."""
    kept: deque[np.ndarray] = deque(maxlen=plan.frames)
    seeked = False
    with open_video(path, budget) as (container, stream):
        source_fps = float(stream.average_rate or stream.guessed_rate or 24)
        if seek and container.duration:  # AV_TIME_BASE units; only a hint
            start = container.duration / 1e6 - plan.frames / plan.fps - 2.0
            if start > 0:
                container.seek(int(start * 1e6))
                seeked = True
        picker = _Picker(plan.fps, latest=plan.from_end)
        last: tuple[Any, np.ndarray] | None = None
        for n, frame in enumerate(checked_frames(container, stream, budget)):
            time = frame.time if frame.time is not None else n / source_fps
            wanted = plan.frames if plan.from_end else plan.frames - len(kept)
            for chosen in picker.feed(frame, time, wanted):
                if last is None or last[0] is not chosen:  # a slow video: reuse the conversion
                    last = (chosen, _fitted(chosen, plan.width, plan.height))
                kept.append(last[1])
            if not plan.from_end and len(kept) == plan.frames:
                break
    return kept, seeked


class _Picker:
    """For each output time t0 + k/fps, the decoded frame nearest to it: a 240 fps upload
    costs decoding, never memory, and its frame rate is read from timestamps, not headers.

    A gap between two timestamps (a crafted one may span years) yields at most the frames the
    clip can still keep: the first ones, or with `latest` the last ones."""

    def __init__(self, fps: float, *, latest: bool = False) -> None:
        self.fps, self.k, self.latest = fps, 0, latest
        self.start: float | None = None
        self.previous: tuple[Any, float] | None = None

    def feed(self, frame: Any, time: float, most: int) -> list[Any]:
        """The frames due up to `time` (at most `most`), `frame` being the latest decoded."""
        if self.start is None:
            self.start = time
        if self.latest:  # only the last `most` of the times due can be kept: skip the rest
            self.k = max(self.k, math.floor((time - self.start) * self.fps + 1e-9) + 1 - most)
        chosen: list[Any] = []
        while len(chosen) < most and (due := self.start + self.k / self.fps) <= time + 1e-9:
            before = self.previous
            chosen.append(before[0] if before and due - before[1] < time - due else frame)
            self.k += 1
        self.previous = (frame, time)
        return chosen


def _fitted(frame: Any, width: int, height: int) -> np.ndarray:
    """The frame turned upright, scaled to cover width×height (swscale's Lanczos, on the
    decoder's planes), center-cropped to exactly that."""
    turns = round(frame.rotation / 90) % 4
    upright = (frame.height, frame.width) if turns % 2 else (frame.width, frame.height)
    scale = max(width / upright[0], height / upright[1])
    cover = (max(width, round(upright[0] * scale)), max(height, round(upright[1] * scale)))
    if cover[0] * cover[1] > LOPSIDED * width * height:
        return _cropped_then_fitted(frame, turns, width, height)
    size = cover[::-1] if turns % 2 else cover
    rgb = frame.reformat(
        width=size[0], height=size[1], format="rgb24", interpolation="LANCZOS"
    ).to_ndarray()
    if turns:
        rgb = np.rot90(rgb, turns)
    left, top = (cover[0] - width) // 2, (cover[1] - height) // 2
    return np.ascontiguousarray(rgb[top : top + height, left : left + width])


def _cropped_then_fitted(frame: Any, turns: int, width: int, height: int) -> np.ndarray:
    """`_fitted` for a frame far from the clip's shape (a 8192×16 strip): cropped at its own
    size first (within the budget's frame size), so the scaling never makes a frame larger
    than the clip's. Scaling first would make a frame of billions of pixels."""
    import av

    rgb = frame.to_ndarray(format="rgb24")
    if turns:
        rgb = np.rot90(rgb, turns)
    rows, columns = rgb.shape[:2]
    if columns * height > rows * width:  # wider than the clip: its middle columns
        keep = max(1, round(rows * width / height))
        rgb = rgb[:, (columns - keep) // 2 :][:, :keep]
    else:  # taller: its middle rows
        keep = max(1, round(columns * height / width))
        rgb = rgb[(rows - keep) // 2 :][:keep]
    piece = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
    return piece.reformat(  # type: ignore[no-any-return]
        width=width, height=height, interpolation="LANCZOS"
    ).to_ndarray()


def _within(frame: Any, side: int) -> np.ndarray:
    """The frame as uint8 RGB, scaled down (never up) to fit in side×side."""
    scale = min(1.0, side / max(frame.width, frame.height))
    if scale == 1.0:
        return frame.to_ndarray(format="rgb24")  # type: ignore[no-any-return]
    width, height = max(1, round(frame.width * scale)), max(1, round(frame.height * scale))
    return frame.reformat(  # type: ignore[no-any-return]
        width=width, height=height, format="rgb24", interpolation="AREA"
    ).to_ndarray()


def count_frames(path: Path, budget: MediaBudget = DEFAULT_BUDGET) -> tuple[int, float]:
    """A video's packets that carry data (its frames, if all decode) and frame rate, without
    decoding; over `budget.max_frames` packets is over budget."""
    with open_video(path, budget) as (container, stream):
        fps = float(stream.average_rate or 24)
        total = 0
        for packet in container.demux(stream):
            total += bool(packet.size)
            if total > budget.max_frames:
                raise too_many_frames(budget)
    if not total:
        raise UnreadableVideo(NO_FRAMES)
    return total, fps


def decode_frames(
    path: Path, indices: Collection[int], budget: MediaBudget = DEFAULT_BUDGET
) -> dict[int, np.ndarray]:
    """The frames at `indices` (in decoding order) as uint8 RGB fitting in SCAN_SIDE."""
    return decode_counted(path, indices, budget)[0]


def decode_counted(
    path: Path, indices: Collection[int], budget: MediaBudget = DEFAULT_BUDGET
) -> tuple[dict[int, np.ndarray], int]:
    """The frames at `indices` (in decoding order) as uint8 RGB fitting in SCAN_SIDE, and how
    many frames decoded in all (every frame is decoded, to count them)."""
    wanted = set(indices)
    found: dict[int, np.ndarray] = {}
    decoded = 0
    with open_video(path, budget) as (container, stream):
        for n, frame in enumerate(checked_frames(container, stream, budget)):
            decoded = n + 1
            if n in wanted:
                found[n] = _within(frame, SCAN_SIDE)
    if not decoded:
        raise UnreadableVideo(NO_FRAMES)
    return found, decoded
