"""ISO base media (MP4, MOV, M4V, 3GP): a video's upright size and length from its boxes.

`moov` → `mvhd` (movie length), and the video track (`trak` whose `hdlr` is `vide`): its `mdhd`
(track length), `stsd` (coded width and height, codec) and `tkhd` (the display matrix: phones
record portrait video sideways and say so there). A fragmented file (OBS, screen recorders) gets
its length from `mvex` → `mehd`, else from the sample durations of every `moof`. Every box and
sample entry visited is charged to the file's `Budget` (`intake.media.budget`).
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass

from intake.media.budget import Budget
from intake.media.video_info import DAMAGED, NO_DURATION, NO_VIDEO_TRACK, ContainerError, VideoInfo


def _boxes(data: bytes, start: int, end: int, budget: Budget) -> Iterator[tuple[bytes, int, int]]:
    """(type, payload start, box end) of each box in data[start:end]."""
    pos = start
    while pos + 8 <= end:
        budget.spend()
        size, kind = struct.unpack_from(">I4s", data, pos)
        header = 8
        if size == 1:
            if pos + 16 > end:
                raise ContainerError(DAMAGED, "cut-off box header")
            (size,) = struct.unpack_from(">Q", data, pos + 8)
            header = 16
        elif size == 0:  # "to the end of the file"
            size = end - pos
        if size < header or pos + size > end:
            raise ContainerError(DAMAGED, f"box {kind!r} runs past its parent")
        yield kind, pos + header, pos + size
        pos += size


def _child(
    data: bytes, start: int, end: int, kind: bytes, budget: Budget
) -> tuple[int, int] | None:
    for found, body, stop in _boxes(data, start, end, budget):
        if found == kind:
            return body, stop
    return None


def _u32(data: bytes, pos: int, stop: int) -> int:
    if pos + 4 > stop:
        raise ContainerError(DAMAGED, "short box")
    return int.from_bytes(data[pos : pos + 4], "big")


def _full_box_times(data: bytes, body: int, stop: int) -> tuple[int, int]:
    """(timescale, duration) of an `mvhd` or `mdhd`, after its version's creation times."""
    version = data[body] if body < stop else 0
    pos, fmt = (body + 20, ">IQ") if version == 1 else (body + 12, ">II")
    if pos + struct.calcsize(fmt) > stop:
        raise ContainerError(DAMAGED, "short time header")
    scale, duration = struct.unpack_from(fmt, data, pos)
    return int(scale), int(duration)


@dataclass(frozen=True)
class _Track:
    track_id: int
    width: int  # coded, before the display matrix
    height: int
    codec: str
    turned: bool  # the display matrix turns it a quarter
    timescale: int
    duration: int  # in timescale units; 0 in a fragmented file


def probe_iso(data: bytes, kind: str, budget: Budget) -> VideoInfo:
    """An MP4 or MOV's upright size and length (`kind` as `sniff` named it); ContainerError."""
    moov = _child(data, 0, len(data), b"moov", budget)
    if moov is None:
        raise ContainerError(DAMAGED, "no moov box (an incomplete recording?)")
    mvhd = _child(data, *moov, b"mvhd", budget)
    if mvhd is None:
        raise ContainerError(DAMAGED, "no mvhd box")
    movie_scale, movie_duration = _full_box_times(data, *mvhd)
    tracks = (
        _video_track(data, body, stop, budget) for k, body, stop in _boxes(data, *moov, budget)
    )
    track = next((t for t in tracks if t is not None), None)
    if track is None:
        raise ContainerError(NO_VIDEO_TRACK)
    if track.timescale and track.duration:
        seconds = track.duration / track.timescale
    elif movie_scale and movie_duration:
        seconds = movie_duration / movie_scale
    else:
        seconds = _fragments_duration(data, moov, track, budget)
    width, height = (track.height, track.width) if track.turned else (track.width, track.height)
    return VideoInfo(kind, width, height, seconds, track.codec)


def _video_track(data: bytes, body: int, end: int, budget: Budget) -> _Track | None:
    """The `trak` at data[body:end] if it is a video track."""
    mdia = _child(data, body, end, b"mdia", budget)
    hdlr = _child(data, *mdia, b"hdlr", budget) if mdia is not None else None
    if mdia is None or hdlr is None or data[hdlr[0] + 8 : hdlr[0] + 12] != b"vide":
        return None
    mdhd = _child(data, *mdia, b"mdhd", budget)
    scale, duration = _full_box_times(data, *mdhd) if mdhd is not None else (0, 0)
    minf = _child(data, *mdia, b"minf", budget)
    stbl = _child(data, *minf, b"stbl", budget) if minf is not None else None
    stsd = _child(data, *stbl, b"stsd", budget) if stbl is not None else None
    if stsd is None or stsd[0] + 8 + 36 > stsd[1]:
        raise ContainerError(DAMAGED, "video track without a sample description")
    entry = stsd[0] + 8  # after version, flags and the entry count
    codec = data[entry + 4 : entry + 8].decode("latin-1")
    width, height = struct.unpack_from(">HH", data, entry + 32)
    tkhd = _child(data, body, end, b"tkhd", budget)
    track_id, turned = 0, False
    if tkhd is not None:
        start, stop = tkhd
        version = data[start]
        track_id = _u32(data, start + (20 if version == 1 else 12), stop)
        matrix = start + (52 if version == 1 else 40)
        if matrix + 36 <= stop:
            a, b, _u, c, d = struct.unpack_from(">iiiii", data, matrix)
            turned = a == 0 and d == 0 and b != 0 and c != 0
    return _Track(track_id, width, height, codec, turned, scale, duration)


def _fragments_duration(data: bytes, moov: tuple[int, int], track: _Track, budget: Budget) -> float:
    """A fragmented MP4's length (OBS, screen recorders): `mvex` → `mehd` when the writer
    recorded it, else the sum of the video track's sample durations over every `moof`."""
    mvex = _child(data, *moov, b"mvex", budget)
    default = 0
    if mvex is not None:
        for kind, body, stop in _boxes(data, *mvex, budget):
            if kind == b"trex" and _u32(data, body + 4, stop) == track.track_id:
                default = _u32(data, body + 12, stop)
    total = 0
    for kind, body, stop in _boxes(data, 0, len(data), budget):
        if kind != b"moof":
            continue
        for traf, start, end in _boxes(data, body, stop, budget):
            if traf == b"traf":
                total += _traf_duration(data, start, end, track.track_id, default, budget)
    if not total or not track.timescale:
        raise ContainerError(NO_DURATION, "fragmented MP4 with no sample durations")
    return total / track.timescale


def _traf_duration(
    data: bytes, start: int, end: int, track_id: int, default: int, budget: Budget
) -> int:
    tfhd = _child(data, start, end, b"tfhd", budget)
    if tfhd is None:
        return 0
    flags = _u32(data, tfhd[0], tfhd[1]) & 0xFFFFFF
    if _u32(data, tfhd[0] + 4, tfhd[1]) != track_id:
        return 0
    pos = tfhd[0] + 8 + (8 if flags & 0x1 else 0) + (4 if flags & 0x2 else 0)
    if flags & 0x8:
        default = _u32(data, pos, tfhd[1])
    total = 0
    for kind, body, stop in _boxes(data, start, end, budget):
        if kind != b"trun":
            continue
        run_flags = _u32(data, body, stop) & 0xFFFFFF
        count = _u32(data, body + 4, stop)
        if not run_flags & 0x100:  # no per-sample durations: all the default
            total += count * default
            continue
        pos = body + 8 + (4 if run_flags & 0x1 else 0) + (4 if run_flags & 0x4 else 0)
        fields = bin(run_flags & 0xF00).count("1")  # 4-byte fields per sample, duration first
        if pos + count * 4 * fields > stop:
            raise ContainerError(DAMAGED, "short trun")
        budget.spend(count)  # one entry per sample, before any is read
        total += sum(struct.unpack_from(f">{count * fields}I", data, pos)[::fields])
    return total
