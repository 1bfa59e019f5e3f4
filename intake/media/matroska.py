"""EBML (WebM, Matroska): a video's size and length from its elements.

The `DocType`, then `Segment` → `Info` (`TimestampScale`, `Duration`) and `Tracks` (the video
track's `PixelWidth`/`PixelHeight`). Browser recordings often have no `Duration`: then the block
timestamps give it, from the first and last clusters only. Every element visited is charged to
the file's `Budget` (`intake.media.budget`).
"""

from __future__ import annotations

import math
import struct
from collections.abc import Iterator
from dataclasses import dataclass

from intake.media.budget import Budget
from intake.media.video_info import DAMAGED, NO_DURATION, NO_VIDEO_TRACK, ContainerError, VideoInfo

_SEGMENT, _INFO, _TRACKS, _CLUSTER = 0x18538067, 0x1549A966, 0x1654AE6B, 0x1F43B675
_TRACK_ENTRY, _TRACK_TYPE, _TRACK_NUMBER, _CODEC_ID = 0xAE, 0x83, 0xD7, 0x86
_VIDEO, _PIXEL_WIDTH, _PIXEL_HEIGHT, _DEFAULT_DURATION = 0xE0, 0xB0, 0xBA, 0x23E383
_TIMESTAMP_SCALE, _DURATION, _CLUSTER_TIMESTAMP = 0x2AD7B1, 0x4489, 0xE7
_SIMPLE_BLOCK, _BLOCK_GROUP, _BLOCK = 0xA3, 0xA0, 0xA1
# Elements that sit directly in a Segment: one of these ends a Cluster of unknown size.
_SEGMENT_LEVEL = {0x114D9B74, _INFO, _TRACKS, _CLUSTER, 0x1C53BB6B, 0x1941A469, 0x1043A770}
_UNKNOWN = -1
_MAX_CODEC_ID = 64  # bytes of a CodecID worth reading (they are short ASCII names)


def _vint(data: bytes, pos: int, end: int, *, keep_marker: bool) -> tuple[int, int]:
    """(value, next position) of an EBML variable-length integer; sizes of all ones are
    `_UNKNOWN` (a live recording that did not know its length)."""
    if pos >= end:
        raise ContainerError(DAMAGED, "cut-off element")
    first = data[pos]
    length = 9 - first.bit_length() if first else 9
    if length > 8 or pos + length > end:
        raise ContainerError(DAMAGED, "bad variable-length integer")
    value = int.from_bytes(data[pos : pos + length], "big")
    if keep_marker:
        return value, pos + length
    value &= (1 << (7 * length)) - 1
    if value == (1 << (7 * length)) - 1:
        return _UNKNOWN, pos + length
    return value, pos + length


def _elements(data: bytes, start: int, end: int, budget: Budget) -> Iterator[tuple[int, int, int]]:
    """(id, payload start, payload end) of each element in data[start:end]; an element of
    unknown size, or one cut off by the end of the file, runs to `end`."""
    pos = start
    while pos < end:
        element, pos, stop = _next(data, pos, end, budget)
        yield element, pos, stop
        pos = stop


def _uint(data: bytes, start: int, end: int) -> int:
    return int.from_bytes(data[start:end], "big") if end - start <= 8 else 0


def _float(data: bytes, start: int, end: int) -> float:
    """An EBML float; 0.0 (as if absent) for one of another size, or not finite: a Duration
    of NaN passed every check and broke the clip's frame count."""
    value = 0.0
    if end - start == 4:
        value = float(struct.unpack_from(">f", data, start)[0])
    elif end - start == 8:
        value = float(struct.unpack_from(">d", data, start)[0])
    return value if math.isfinite(value) else 0.0


def probe_ebml(data: bytes, kind: str, budget: Budget) -> VideoInfo:
    """A WebM or MKV's size and length (`kind` as `sniff` named it); ContainerError otherwise."""
    segment = None
    for element, start, stop in _elements(data, 0, len(data), budget):
        if element == _SEGMENT:
            segment = (start, stop)
            break
    if segment is None:
        raise ContainerError(DAMAGED, "no Segment")
    scale, duration = 1_000_000, 0.0
    track: _EbmlTrack | None = None
    clusters: list[tuple[int, int]] = []
    pos, end = segment
    while pos < end:
        element, start, size = _header(data, pos, end, budget)
        size_end = end if size == _UNKNOWN else min(start + size, end)
        if element == _INFO:
            for child, a, b in _elements(data, start, size_end, budget):
                if child == _TIMESTAMP_SCALE:
                    scale = _uint(data, a, b) or scale
                elif child == _DURATION:
                    duration = _float(data, a, b)
        elif element == _TRACKS and track is None:
            track = _ebml_video_track(data, start, size_end, budget)
        elif element == _CLUSTER:
            if duration > 0 and track is not None:
                break  # everything is known: no need to walk the frames
            if size == _UNKNOWN:  # a live recording's: walked to find where it ends
                size_end = _cluster_end(data, start, end, budget)
            clusters.append((start, size_end))
        pos = size_end
    if track is None:
        raise ContainerError(NO_VIDEO_TRACK)
    seconds = duration * scale / 1e9
    if seconds <= 0:
        seconds = _blocks_duration(data, clusters, track, scale, budget)
    return VideoInfo(kind, track.width, track.height, seconds, track.codec)


def _header(data: bytes, pos: int, end: int, budget: Budget) -> tuple[int, int, int]:
    """The element at `pos`: (id, payload start, size or `_UNKNOWN`); one entry of the budget."""
    budget.spend()
    element, pos = _vint(data, pos, end, keep_marker=True)
    size, pos = _vint(data, pos, end, keep_marker=False)
    return element, pos, size


def _next(data: bytes, pos: int, end: int, budget: Budget) -> tuple[int, int, int]:
    """(id, payload start, payload end) of the element at `pos`, cut at `end`."""
    element, start, size = _header(data, pos, end, budget)
    return element, start, end if size == _UNKNOWN else min(start + size, end)


def _cluster_end(data: bytes, start: int, end: int, budget: Budget) -> int:
    """Where a Cluster of unknown size ends: at the next Segment-level element."""
    pos = start
    while pos < end:
        element, _body, stop = _next(data, pos, end, budget)
        if element in _SEGMENT_LEVEL:
            return pos
        pos = stop
    return end


@dataclass
class _EbmlTrack:
    number: int | None = None
    codec: str = ""
    frame_ns: int = 0  # DefaultDuration: one frame, in nanoseconds
    width: int = 0
    height: int = 0


def _ebml_video_track(data: bytes, start: int, end: int, budget: Budget) -> _EbmlTrack | None:
    for element, a, b in _elements(data, start, end, budget):
        if element != _TRACK_ENTRY:
            continue
        track = _EbmlTrack()
        is_video = False
        for child, c, d in _elements(data, a, b, budget):
            if child == _TRACK_TYPE:
                is_video = _uint(data, c, d) == 1
            elif child == _TRACK_NUMBER:
                track.number = _uint(data, c, d)
            elif child == _CODEC_ID:
                track.codec = data[c : min(d, c + _MAX_CODEC_ID)].decode("ascii", "replace")
            elif child == _DEFAULT_DURATION:
                track.frame_ns = _uint(data, c, d)
            elif child == _VIDEO:
                for grandchild, e, f in _elements(data, c, d, budget):
                    if grandchild == _PIXEL_WIDTH:
                        track.width = _uint(data, e, f)
                    elif grandchild == _PIXEL_HEIGHT:
                        track.height = _uint(data, e, f)
        if is_video and track.width and track.height:
            return track
    return None


def _blocks_duration(
    data: bytes, clusters: list[tuple[int, int]], track: _EbmlTrack, scale: int, budget: Budget
) -> float:
    """A length from the frames' timestamps, for files whose header has none: from the first
    frame to the last plus one frame (`DefaultDuration`, else the last gap between frames).

    Clusters follow each other in time, so the first frame is in the first cluster with frames
    of the track and the last in the last one: only those are walked, however long the file."""
    first: list[int] = []
    for start, end in clusters:
        if first := _cluster_times(data, start, end, track.number, budget):
            break
    last: list[int] = []
    for start, end in reversed(clusters):  # back until two frames give the last gap
        last = _cluster_times(data, start, end, track.number, budget) + last
        if len(last) > 1:
            break
    if not first or not last:
        raise ContainerError(NO_DURATION, "no frames found")
    last.sort()
    frame_ns = track.frame_ns
    step = frame_ns / scale if frame_ns else (last[-1] - last[-2] if len(last) > 1 else 0)
    return (last[-1] - min(first) + step) * scale / 1e9


def _cluster_times(
    data: bytes, start: int, end: int, number: int | None, budget: Budget
) -> list[int]:
    """The timestamps of the frames of track `number` (any track if None) in one cluster."""
    base = 0
    times: list[int] = []
    for element, a, b in _elements(data, start, end, budget):
        if element == _CLUSTER_TIMESTAMP:
            base = _uint(data, a, b)
        elif element in (_SIMPLE_BLOCK, _BLOCK_GROUP):
            block: tuple[int, int] | None = (a, b)
            if element == _BLOCK_GROUP:
                block = next(
                    ((c, d) for e, c, d in _elements(data, a, b, budget) if e == _BLOCK), None
                )
            if block is None:
                continue
            which, at = _vint(data, block[0], block[1], keep_marker=False)
            if (number is not None and which != number) or at + 2 > block[1]:
                continue
            (relative,) = struct.unpack_from(">h", data, at)
            times.append(base + relative)
    return times
