"""What a video file is and how long, read from its container alone: pure Python, no FFmpeg.

The bot process has neither torch nor PyAV, yet `/restyle` must tell a member at once that their
file is no video, too short, or too large, and must know the video's length (the clip is made
as long as the video) and its shape (the clip keeps its aspect). All of that is in the
container's headers:

- ISO base media (MP4, MOV, M4V, 3GP): the `ftyp` brand here, then the `moov` boxes
  (`intake.media.iso_bmff`), the display matrix included: phones record portrait video sideways;
- EBML (WebM, Matroska): the `DocType` here, then the `Segment`'s `Info` and `Tracks`, or the
  clusters' block timestamps when there is no `Duration` (`intake.media.matroska`).

Only headers are read: no frame is decoded here, so a file that passes may still fail to decode
in the worker (which says so to the member). Everything is bounds-checked: any byte string gives
a `VideoInfo` or raises `ContainerError`, whose `reason` is one of the constants of
`intake.media.video_info` (imported from here), and what a file may cost to read is bounded too
(`intake.media.budget`).
"""

from __future__ import annotations

import struct

from intake.media.budget import Budget
from intake.media.iso_bmff import probe_iso
from intake.media.matroska import probe_ebml
from intake.media.video_info import (
    DAMAGED,
    NO_DURATION,
    NO_VIDEO_TRACK,
    NOT_VIDEO,
    TOO_COMPLEX,
    ContainerError,
    VideoInfo,
)

# What callers import from here; the reasons and types live in `intake.media.video_info`.
__all__ = [
    "DAMAGED",
    "NOT_VIDEO",
    "NO_DURATION",
    "NO_VIDEO_TRACK",
    "TOO_COMPLEX",
    "Budget",
    "ContainerError",
    "VideoInfo",
    "probe",
    "sniff",
]

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


def probe(data: bytes, budget: Budget | None = None) -> VideoInfo:
    """Container, upright size and length of a video file; ContainerError otherwise, with
    `TOO_COMPLEX` past the `budget` (by default `intake.media.budget`'s bounds)."""
    kind = sniff(data)
    if kind not in ("MP4", "MOV", "WebM", "MKV"):
        raise ContainerError(NOT_VIDEO, kind)
    budget = budget or Budget()
    try:
        if kind in ("MP4", "MOV"):
            return probe_iso(data, kind, budget)
        return probe_ebml(data, kind, budget)
    except (struct.error, IndexError, UnicodeDecodeError) as exc:  # a field past the end
        raise ContainerError(DAMAGED, str(exc)) from None
