"""Uploads crafted to cost the most to check: valid-looking headers, then millions of tiny entries.

Each fills `size` bytes (25 MB, the /restyle limit, by default) the way an attacker would: the
header a reader needs first, then the cheapest entry to repeat. Before the readers were bounded
each cost 1 to 12 s of pure-Python CPU to walk.
"""

from __future__ import annotations

import io
import struct

MiB = 1024 * 1024
SIZE = 25 * MiB - 4096


def _ebml(element_id: bytes, payload: bytes) -> bytes:
    """One EBML element with an 8-byte size."""
    return element_id + b"\x01" + len(payload).to_bytes(7, "big") + payload


_UNKNOWN_SIZE = b"\x01\xff\xff\xff\xff\xff\xff\xff"
_WEBM_HEADER = _ebml(b"\x1a\x45\xdf\xa3", _ebml(b"\x42\x82", b"webm"))
_VIDEO = _ebml(b"\xe0", _ebml(b"\xb0", b"\x00\x60") + _ebml(b"\xba", b"\x00\x40"))
_TRACKS = _ebml(
    b"\x16\x54\xae\x6b",
    _ebml(
        b"\xae",
        _ebml(b"\xd7", b"\x01") + _ebml(b"\x83", b"\x01") + _ebml(b"\x86", b"V_VP9") + _VIDEO,
    ),
)


def webm_of_tiny_blocks(size: int = SIZE) -> bytes:
    """A live recording's shape (no Duration, a cluster of unknown size) with millions of
    4-byte frames: every one would be visited to find the length."""
    block = b"\xa3\x84\x81\x00\x01\x80"  # SimpleBlock: track 1, at 1, keyframe
    head = _WEBM_HEADER + b"\x18\x53\x80\x67" + _UNKNOWN_SIZE + _TRACKS
    cluster = b"\x1f\x43\xb6\x75" + _UNKNOWN_SIZE + b"\xe7\x81\x00"
    return head + cluster + block * ((size - len(head) - len(cluster)) // len(block))


def webm_of_voids(size: int = SIZE) -> bytes:
    """An EBML header, then twelve million empty Void elements before any Segment."""
    return _WEBM_HEADER + b"\xec\x80" * ((size - len(_WEBM_HEADER)) // 2)


def _box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I4s", 8 + len(payload), kind) + payload


_FTYP = _box(b"ftyp", b"isom\x00\x00\x02\x00")


def mp4_of_empty_boxes(size: int = SIZE) -> bytes:
    """An `ftyp`, then three million empty `free` boxes before any `moov`."""
    return _FTYP + _box(b"free", b"") * ((size - len(_FTYP)) // 8)


def _full(kind: bytes, payload: bytes) -> bytes:
    return _box(kind, b"\x00\x00\x00\x00" + payload)


def fragmented_mp4_of_one_long_run(size: int = SIZE) -> bytes:
    """A fragmented MP4 (no length in `moov`) whose one `trun` lists six million samples, each
    with its own duration."""
    sample_entry = bytes(24) + struct.pack(">HH", 96, 64) + bytes(50)
    stsd = _full(b"stsd", struct.pack(">I", 1) + _box(b"avc1", sample_entry))
    mdia = _box(
        b"mdia",
        _full(b"mdhd", struct.pack(">IIII", 0, 0, 1000, 0) + bytes(4))
        + _full(b"hdlr", bytes(4) + b"vide" + bytes(12) + b"\x00")
        + _box(b"minf", _box(b"stbl", stsd)),
    )
    tkhd = _full(b"tkhd", struct.pack(">III", 0, 0, 1) + bytes(68))
    moov = _box(
        b"moov",
        _full(b"mvhd", struct.pack(">IIII", 0, 0, 1000, 0) + bytes(80))
        + _box(b"trak", tkhd + mdia),
    )
    tfhd = _full(b"tfhd", struct.pack(">I", 1))
    head = _FTYP + moov
    count = (size - len(head) - 8 * 3 - len(tfhd) - 16) // 4
    trun = _box(b"trun", struct.pack(">II", 0x100, count) + struct.pack(">I", 40) * count)
    return head + _box(b"moof", _box(b"traf", tfhd + trun))


def jpeg_of_many_scans(scans: int = 3000, side: int = 4096) -> bytes:
    """A progressive JPEG of `side`×`side` whose last scan is repeated `scans` times: each
    repeat is 33 bytes and makes libjpeg walk every block of the picture again (about 10 ms
    at 4096×4096). libjpeg only warns about a repeated scan, so nothing refuses it: 3,000
    repeats (100 KB) take some 30 s to decode, a 10 MB one hours."""
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (side, side), (120, 130, 140)).save(out, "JPEG", progressive=True)
    data = out.getvalue()
    last_scan = data.rindex(b"\xff\xda")  # start of the last scan, which runs to the end
    return data[:-2] + data[last_scan:-2] * scans + b"\xff\xd9"


CRAFTED = {
    "webm-tiny-blocks.webm": webm_of_tiny_blocks,
    "webm-voids.webm": webm_of_voids,
    "mp4-empty-boxes.mp4": mp4_of_empty_boxes,
    "mp4-long-run.mp4": fragmented_mp4_of_one_long_run,
}
