"""What a video file is and how long, read from its container alone: pure Python, no FFmpeg.

The bot process has neither torch nor PyAV, yet `/restyle` must tell a member at once that their
file is no video, too short, or too large, and must know the video's length (the clip is made
as long as the video) and its shape (the clip keeps its aspect). All of that is in the
container's headers:

- ISO base media (MP4, MOV, M4V, 3GP): the `ftyp` brand, then `moov` → `mvhd` (movie length),
  and the video track (`trak` whose `hdlr` is `vide`): its `mdhd` (track length), `stsd`
  (coded width and height, codec) and `tkhd` (the display matrix: phones record portrait video
  sideways and say so there);
- EBML (WebM, Matroska): the `DocType`, then `Segment` → `Info` (`TimestampScale`, `Duration`)
  and `Tracks` (the video track's `PixelWidth`/`PixelHeight`). Browser recordings often have no
  `Duration`: then the block timestamps of the clusters give it.

Only headers are read: no frame is decoded here, so a file that passes may still fail to decode
in the worker (which says so to the member). Everything is bounds-checked: any byte string gives
a `VideoInfo` or raises `ContainerError`, whose `reason` is one of the constants below.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass

# ContainerError.reason values
NOT_VIDEO = "not-video"  # not a container we read (see `sniff` for what it is instead)
DAMAGED = "damaged"  # truncated or inconsistent headers
NO_VIDEO_TRACK = "no-video-track"  # a container with sound only (an .m4a, a voice memo)
NO_DURATION = "no-duration"  # nothing says how long it is (a fragmented MP4 without `mehd`)


class ContainerError(ValueError):
    def __init__(self, reason: str, detail: str = "") -> None:
        self.reason = reason
        super().__init__(f"{reason}: {detail}" if detail else reason)


@dataclass(frozen=True)
class VideoInfo:
    """A video as a viewer shows it: upright width and height (rotation applied)."""

    container: str  # as members call it: MP4, MOV, WebM, MKV
    width: int
    height: int
    duration_s: float
    codec: str = ""  # fourcc or Matroska CodecID, for the logs


# ---------------------------------------------------------------------------- sniffing

# (offset, magic, what it is) for files members send by mistake; checked after ours.
_OTHER_KINDS: tuple[tuple[int, bytes, str], ...] = (
    (0, b"\x89PNG\r\n\x1a\n", "a PNG picture"),
    (0, b"\xff\xd8\xff", "a JPEG picture"),
    (0, b"GIF87a", "a GIF"),
    (0, b"GIF89a", "a GIF"),
    (0, b"%PDF-", "a PDF"),
    (0, b"PK\x03\x04", "a ZIP archive (or an Office document)"),
    (0, b"Rar!", "a RAR archive"),
    (0, b"7z\xbc\xaf", "a 7-Zip archive"),
    (0, b"ID3", "an MP3 audio file"),
    (0, b"OggS", "an Ogg audio or video file"),
    (0, b"fLaC", "a FLAC audio file"),
    (0, b"BM", "a BMP picture"),
    (0, b"II*\x00", "a TIFF picture"),
    (0, b"MM\x00*", "a TIFF picture"),
    (0, b"\x1f\x8b", "a gzip archive"),
    (0, b"MZ", "a Windows program"),
    (0, b"\x7fELF", "a program"),
)
_RIFF_KINDS = {b"WEBP": "a WebP picture", b"AVI ": "an AVI video", b"WAVE": "a WAV audio file"}
_IMAGE_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"mif1", b"msf1", b"avif", b"avis"}
_AUDIO_BRANDS = {b"M4A ", b"M4B ", b"M4P "}
_MOV_BOXES = {b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot"}  # old QuickTime, no ftyp
_EBML_MAGIC = b"\x1a\x45\xdf\xa3"


def sniff(data: bytes) -> str:
    """`MP4`, `MOV`, `WebM` or `MKV` for a container we read; otherwise what the file seems
    to be ("a PDF", "a PNG picture", "a text file", "an unknown kind of file")."""
    if len(data) >= 12 and data[4:8] == b"ftyp":
        brand = data[8:12]
        if brand in _IMAGE_BRANDS:
            return "a HEIC or AVIF picture"
        if brand in _AUDIO_BRANDS:
            return "an M4A audio file"
        return "MOV" if brand == b"qt  " else "MP4"
    if len(data) >= 8 and data[4:8] in _MOV_BOXES:
        return "MOV"
    if data.startswith(_EBML_MAGIC):
        return "WebM" if b"webm" in data[:64] else "MKV"
    if data.startswith(b"RIFF") and data[8:12] in _RIFF_KINDS:
        return _RIFF_KINDS[data[8:12]]
    for offset, magic, kind in _OTHER_KINDS:
        if data[offset : offset + len(magic)] == magic:
            return kind
    head = data[:512]
    if head and b"\x00" not in head:
        try:
            head.decode("utf-8")
        except UnicodeDecodeError as exc:
            if exc.start < len(head) - 4:  # not just a character cut in two at the end
                return "an unknown kind of file"
        return "a text file"
    return "an unknown kind of file"


def probe(data: bytes) -> VideoInfo:
    """Container, upright size and length of a video file; ContainerError otherwise."""
    kind = sniff(data)
    if kind not in ("MP4", "MOV", "WebM", "MKV"):
        raise ContainerError(NOT_VIDEO, kind)
    try:
        return _probe_iso(data, kind) if kind in ("MP4", "MOV") else _probe_ebml(data, kind)
    except (struct.error, IndexError, UnicodeDecodeError) as exc:  # a field past the end
        raise ContainerError(DAMAGED, str(exc)) from None


# ------------------------------------------------------------------- ISO base media (MP4)


def _boxes(data: bytes, start: int, end: int) -> Iterator[tuple[bytes, int, int]]:
    """(type, payload start, box end) of each box in data[start:end]."""
    pos = start
    while pos + 8 <= end:
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


def _child(data: bytes, start: int, end: int, kind: bytes) -> tuple[int, int] | None:
    for found, body, stop in _boxes(data, start, end):
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


def _probe_iso(data: bytes, kind: str) -> VideoInfo:
    moov = _child(data, 0, len(data), b"moov")
    if moov is None:
        raise ContainerError(DAMAGED, "no moov box (an incomplete recording?)")
    mvhd = _child(data, *moov, b"mvhd")
    if mvhd is None:
        raise ContainerError(DAMAGED, "no mvhd box")
    movie_scale, movie_duration = _full_box_times(data, *mvhd)
    tracks = (_video_track(data, body, stop) for k, body, stop in _boxes(data, *moov))
    track = next((t for t in tracks if t is not None), None)
    if track is None:
        raise ContainerError(NO_VIDEO_TRACK)
    if track.timescale and track.duration:
        seconds = track.duration / track.timescale
    elif movie_scale and movie_duration:
        seconds = movie_duration / movie_scale
    else:
        seconds = _fragments_duration(data, moov, track)
    width, height = (track.height, track.width) if track.turned else (track.width, track.height)
    return VideoInfo(kind, width, height, seconds, track.codec)


def _video_track(data: bytes, body: int, end: int) -> _Track | None:
    """The `trak` at data[body:end] if it is a video track."""
    mdia = _child(data, body, end, b"mdia")
    hdlr = _child(data, *mdia, b"hdlr") if mdia is not None else None
    if mdia is None or hdlr is None or data[hdlr[0] + 8 : hdlr[0] + 12] != b"vide":
        return None
    mdhd = _child(data, *mdia, b"mdhd")
    scale, duration = _full_box_times(data, *mdhd) if mdhd is not None else (0, 0)
    minf = _child(data, *mdia, b"minf")
    stbl = _child(data, *minf, b"stbl") if minf is not None else None
    stsd = _child(data, *stbl, b"stsd") if stbl is not None else None
    if stsd is None or stsd[0] + 8 + 36 > stsd[1]:
        raise ContainerError(DAMAGED, "video track without a sample description")
    entry = stsd[0] + 8  # after version, flags and the entry count
    codec = data[entry + 4 : entry + 8].decode("latin-1")
    width, height = struct.unpack_from(">HH", data, entry + 32)
    tkhd = _child(data, body, end, b"tkhd")
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


def _fragments_duration(data: bytes, moov: tuple[int, int], track: _Track) -> float:
    """A fragmented MP4's length (OBS, screen recorders): `mvex` → `mehd` when the writer
    recorded it, else the sum of the video track's sample durations over every `moof`."""
    mvex = _child(data, *moov, b"mvex")
    default = 0
    if mvex is not None:
        for kind, body, stop in _boxes(data, *mvex):
            if kind == b"trex" and _u32(data, body + 4, stop) == track.track_id:
                default = _u32(data, body + 12, stop)
    total = 0
    for kind, body, stop in _boxes(data, 0, len(data)):
        if kind != b"moof":
            continue
        for traf, start, end in _boxes(data, body, stop):
            if traf == b"traf":
                total += _traf_duration(data, start, end, track.track_id, default)
    if not total or not track.timescale:
        raise ContainerError(NO_DURATION, "fragmented MP4 with no sample durations")
    return total / track.timescale


def _traf_duration(data: bytes, start: int, end: int, track_id: int, default: int) -> int:
    tfhd = _child(data, start, end, b"tfhd")
    if tfhd is None:
        return 0
    flags = _u32(data, tfhd[0], tfhd[1]) & 0xFFFFFF
    if _u32(data, tfhd[0] + 4, tfhd[1]) != track_id:
        return 0
    pos = tfhd[0] + 8 + (8 if flags & 0x1 else 0) + (4 if flags & 0x2 else 0)
    if flags & 0x8:
        default = _u32(data, pos, tfhd[1])
    total = 0
    for kind, body, stop in _boxes(data, start, end):
        if kind != b"trun":
            continue
        run_flags = _u32(data, body, stop) & 0xFFFFFF
        count = _u32(data, body + 4, stop)
        if not run_flags & 0x100:  # no per-sample durations: all the default
            total += count * default
            continue
        pos = body + 8 + (4 if run_flags & 0x1 else 0) + (4 if run_flags & 0x4 else 0)
        stride = 4 * bin(run_flags & 0xF00).count("1")
        if pos + count * stride > stop:
            raise ContainerError(DAMAGED, "short trun")
        total += sum(_u32(data, pos + i * stride, stop) for i in range(count))
    return total


# ------------------------------------------------------------------ EBML (WebM, Matroska)

_SEGMENT, _INFO, _TRACKS, _CLUSTER = 0x18538067, 0x1549A966, 0x1654AE6B, 0x1F43B675
_TRACK_ENTRY, _TRACK_TYPE, _TRACK_NUMBER, _CODEC_ID = 0xAE, 0x83, 0xD7, 0x86
_VIDEO, _PIXEL_WIDTH, _PIXEL_HEIGHT, _DEFAULT_DURATION = 0xE0, 0xB0, 0xBA, 0x23E383
_TIMESTAMP_SCALE, _DURATION, _CLUSTER_TIMESTAMP = 0x2AD7B1, 0x4489, 0xE7
_SIMPLE_BLOCK, _BLOCK_GROUP, _BLOCK = 0xA3, 0xA0, 0xA1
# Elements that sit directly in a Segment: one of these ends a Cluster of unknown size.
_SEGMENT_LEVEL = {0x114D9B74, _INFO, _TRACKS, _CLUSTER, 0x1C53BB6B, 0x1941A469, 0x1043A770}
_UNKNOWN = -1


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


def _elements(data: bytes, start: int, end: int) -> Iterator[tuple[int, int, int]]:
    """(id, payload start, payload end) of each element in data[start:end]; an element of
    unknown size, or one cut off by the end of the file, runs to `end`."""
    pos = start
    while pos < end:
        element, pos = _vint(data, pos, end, keep_marker=True)
        size, pos = _vint(data, pos, end, keep_marker=False)
        stop = end if size == _UNKNOWN else min(pos + size, end)
        yield element, pos, stop
        pos = stop


def _uint(data: bytes, start: int, end: int) -> int:
    return int.from_bytes(data[start:end], "big") if end - start <= 8 else 0


def _float(data: bytes, start: int, end: int) -> float:
    if end - start == 4:
        return float(struct.unpack_from(">f", data, start)[0])
    if end - start == 8:
        return float(struct.unpack_from(">d", data, start)[0])
    return 0.0


def _probe_ebml(data: bytes, kind: str) -> VideoInfo:
    segment = None
    for element, start, stop in _elements(data, 0, len(data)):
        if element == _SEGMENT:
            segment = (start, stop)
            break
    if segment is None:
        raise ContainerError(DAMAGED, "no Segment")
    scale, duration = 1_000_000, 0.0
    track: _EbmlTrack | None = None
    clusters: list[int] = []
    pos, end = segment
    while pos < end:
        element, start, size_end = _next(data, pos, end)
        if element == _INFO:
            for child, a, b in _elements(data, start, size_end):
                if child == _TIMESTAMP_SCALE:
                    scale = _uint(data, a, b) or scale
                elif child == _DURATION:
                    duration = _float(data, a, b)
        elif element == _TRACKS and track is None:
            track = _ebml_video_track(data, start, size_end)
        elif element == _CLUSTER:
            if duration > 0 and track is not None:
                break  # everything is known: no need to walk the frames
            size_end = _cluster_end(data, start, size_end)
            clusters.append(start)
            clusters.append(size_end)
        pos = size_end
    if track is None:
        raise ContainerError(NO_VIDEO_TRACK)
    seconds = duration * scale / 1e9
    if seconds <= 0:
        seconds = _blocks_duration(data, clusters, track, scale)
    return VideoInfo(kind, track.width, track.height, seconds, track.codec)


def _next(data: bytes, pos: int, end: int) -> tuple[int, int, int]:
    element, pos = _vint(data, pos, end, keep_marker=True)
    size, pos = _vint(data, pos, end, keep_marker=False)
    return element, pos, end if size == _UNKNOWN else min(pos + size, end)


def _cluster_end(data: bytes, start: int, end: int) -> int:
    """Where a Cluster ends: its size says, or (unknown size) the next Segment-level element."""
    pos = start
    while pos < end:
        element, _body, stop = _next(data, pos, end)
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


def _ebml_video_track(data: bytes, start: int, end: int) -> _EbmlTrack | None:
    for element, a, b in _elements(data, start, end):
        if element != _TRACK_ENTRY:
            continue
        track = _EbmlTrack()
        is_video = False
        for child, c, d in _elements(data, a, b):
            if child == _TRACK_TYPE:
                is_video = _uint(data, c, d) == 1
            elif child == _TRACK_NUMBER:
                track.number = _uint(data, c, d)
            elif child == _CODEC_ID:
                track.codec = data[c:d].decode("ascii", "replace")
            elif child == _DEFAULT_DURATION:
                track.frame_ns = _uint(data, c, d)
            elif child == _VIDEO:
                for grandchild, e, f in _elements(data, c, d):
                    if grandchild == _PIXEL_WIDTH:
                        track.width = _uint(data, e, f)
                    elif grandchild == _PIXEL_HEIGHT:
                        track.height = _uint(data, e, f)
        if is_video and track.width and track.height:
            return track
    return None


def _blocks_duration(data: bytes, clusters: list[int], track: _EbmlTrack, scale: int) -> float:
    """A length from the frames' timestamps, for files whose header has none: the last frame's
    time plus one frame (`DefaultDuration`, else the last gap between frames)."""
    number = track.number
    times: list[int] = []
    for start, end in zip(clusters[::2], clusters[1::2], strict=True):
        base = 0
        for element, a, b in _elements(data, start, end):
            if element == _CLUSTER_TIMESTAMP:
                base = _uint(data, a, b)
            elif element in (_SIMPLE_BLOCK, _BLOCK_GROUP):
                block = (a, b)
                if element == _BLOCK_GROUP:
                    found = [(c, d) for e, c, d in _elements(data, a, b) if e == _BLOCK]
                    if not found:
                        continue
                    block = found[0]
                which, at = _vint(data, block[0], block[1], keep_marker=False)
                if (number is not None and which != number) or at + 2 > block[1]:
                    continue
                (relative,) = struct.unpack_from(">h", data, at)
                times.append(base + relative)
    if not times:
        raise ContainerError(NO_DURATION, "no frames found")
    times.sort()
    frame_ns = track.frame_ns
    step = frame_ns / scale if frame_ns else (times[-1] - times[-2] if len(times) > 1 else 0)
    return (times[-1] - times[0] + step) * scale / 1e9
