"""Videos members attach to `/restyle`: fetched with a cap, judged by their headers.

As with pictures (`intake.media.images`), nothing about the file is trusted but its bytes: the
type is what `intake.media.containers` finds in them, never the name or the declared content
type, so a PNG renamed `clip.mp4` is refused and named for what it is. Each check fails with its own
`AttachmentError` saying what was wrong and what `/restyle` takes (`ACCEPTED`):

1. the declared size, before a byte is downloaded;
2. the download, bounded in time and size (the interaction is deferred first, so the time
   limit is generous);
3. the container (MP4, MOV, WebM, MKV) with a video track, and its length and dimensions read
   from the headers (`intake.media.containers`, pure Python: the bot needs neither PyAV nor FFmpeg),
   at a bounded cost: a file built to take long to read is refused as too complex
   (`intake.media.budget`).

No frame is decoded here: the worker decodes the video, and a file whose headers pass but whose
frames don't decode fails the clip with a message saying so (`worker.backends.common`). The
member's bytes are stored as they came (a kind the gallery never serves); only the restyled
clip, encoded afresh by the worker, is ever shown to anyone.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from intake.media.containers import (
    DAMAGED,
    NO_DURATION,
    NO_VIDEO_TRACK,
    NOT_VIDEO,
    TOO_COMPLEX,
    ContainerError,
    VideoInfo,
    probe,
)
from intake.media.images import (
    AttachmentError,
    Downloadable,
    check_declared_size,
    download,
    shown_name,
)

log = logging.getLogger(__name__)

MiB = 1024 * 1024
MAX_VIDEO_BYTES = 25 * MiB  # a request's whole body is capped at 25 MiB (DESIGN)
MIN_SECONDS = 1.0  # `-len`'s own minimum, so a restyled clip's command line reads back
MIN_SIDE = 64
MAX_SIDE = 4096
DOWNLOAD_TIMEOUT_S = 30.0  # the interaction is deferred before the download starts
ACCEPTED = "an MP4, MOV, WebM or MKV video"
_SIZE_WORDING = {
    "subject": "videos for /restyle",
    "advice": "Trim it, or export it smaller (720p is plenty), and attach it again.",
}
# Media-store kind for each container (gallery.media: kept, never served).
STORED_KINDS = {"MP4": "input.mp4", "MOV": "input.mov", "WebM": "input.webm", "MKV": "input.mkv"}


class NotAVideo(AttachmentError):
    pass


class BrokenVideo(AttachmentError):
    pass


class VideoTooShort(AttachmentError):
    pass


class VideoDimensionsOutOfRange(AttachmentError):
    pass


class VideoCodecUnsupported(AttachmentError):
    """A codec the worker's decoder refuses (it reads H.264, HEVC, VP8, VP9, AV1, MPEG-4)."""


# Codecs members' editors export that the worker will not decode (worker.media_decode.CODECS),
# by MP4/MOV fourcc or Matroska CodecID: refused here, before the request is queued. A list of
# the refused, not of the allowed: phones label the allowed under many names (dvh1, hev1, …).
UNSUPPORTED_CODECS = {
    **dict.fromkeys(("apch", "apcn", "apcs", "apco", "ap4h", "ap4x", "V_PRORES"), "ProRes"),
    **dict.fromkeys(("jpeg", "mjpa", "mjpb", "AVDJ", "dmb1", "V_MJPEG"), "Motion JPEG"),
    **dict.fromkeys(("AVdn", "AVdh"), "DNxHD"),
    **dict.fromkeys(("s263", "h263"), "H.263"),
    **dict.fromkeys(("SVQ1", "SVQ3"), "Sorenson"),
    "cvid": "Cinepak",
    "V_THEORA": "Theora",
}


class VideoTooComplex(AttachmentError):
    pass


@dataclass(frozen=True)
class CheckedVideo:
    """A video that passed every check: the member's bytes and what its headers say."""

    data: bytes
    info: VideoInfo

    @property
    def kind(self) -> str:
        """The media-store kind to keep it under."""
        return STORED_KINDS[self.info.container]


def allowed(max_bytes: int = MAX_VIDEO_BYTES) -> str:
    """What /restyle takes, in one phrase, for every refusal."""
    return f"/restyle takes {ACCEPTED} up to {max_bytes / MiB:.0f} MB"


def check_declared_video_size(
    filename: str, size: int, *, max_bytes: int = MAX_VIDEO_BYTES
) -> None:
    """Refuse a video too large to take before answering or downloading anything."""
    check_declared_size(filename, size, max_bytes=max_bytes, **_SIZE_WORDING)


async def download_video(
    attachment: Downloadable,
    *,
    max_bytes: int = MAX_VIDEO_BYTES,
    timeout_s: float = DOWNLOAD_TIMEOUT_S,
) -> bytes:
    """The attachment's bytes, size-checked before and after a bounded read."""
    return await download(attachment, max_bytes=max_bytes, timeout_s=timeout_s, **_SIZE_WORDING)


def check_video(
    data: bytes, filename: str = "video", *, max_bytes: int = MAX_VIDEO_BYTES
) -> CheckedVideo:
    """Judge `data` by its headers, or raise an AttachmentError that says what to do.

    Pure (headers only, no decoding) and bounded (`intake.media.budget`: a few tenths of a second
    of CPU at worst): from async code, run it through `intake.media.checks.UploadChecks`.
    """
    return CheckedVideo(data=data, info=judge_video(data, filename, max_bytes=max_bytes))


def judge_video(
    data: bytes, filename: str = "video", *, max_bytes: int = MAX_VIDEO_BYTES
) -> VideoInfo:
    """`check_video`'s verdict alone: what another process sends back (not the bytes)."""
    name = shown_name(filename)
    check_declared_size(filename, len(data), max_bytes=max_bytes, **_SIZE_WORDING)
    try:
        info = probe(data)
    except ContainerError as exc:
        log.info("refused attachment %r: %s", filename, exc)
        raise _refusal(exc, name) from None
    codec = UNSUPPORTED_CODECS.get(info.codec.strip())
    if codec is not None:
        raise VideoCodecUnsupported(
            f"`{name}` is encoded as {codec}, which I can't read. Export it again as an H.264 "
            "MP4 (most editors call it 'H.264' or 'MP4') and attach the new file."
        )
    if info.duration_s < MIN_SECONDS:
        raise VideoTooShort(
            f"`{name}` is only {info.duration_s:.1f} s long; /restyle needs at least "
            f"{MIN_SECONDS:g} s of video. Attach a longer one."
        )
    small = min(info.width, info.height) < MIN_SIDE
    if small or max(info.width, info.height) > MAX_SIDE:
        limits = f"at least {MIN_SIDE}×{MIN_SIDE} and at most {MAX_SIDE} pixels on a side"
        raise VideoDimensionsOutOfRange(
            f"`{name}` is {info.width}×{info.height} pixels; /restyle takes videos {limits}. "
            "Export it at another size and attach it again."
        )
    return info


def _refusal(exc: ContainerError, name: str) -> AttachmentError:
    if exc.reason == NOT_VIDEO:
        what = str(exc).split(": ", 1)[1] if ": " in str(exc) else "not a video"
        hint = " (for pictures there is /animate)" if "picture" in what else ""
        return NotAVideo(
            f"`{name}` is {what}, not a video, whatever its name says; {allowed()}{hint}."
        )
    if exc.reason == NO_VIDEO_TRACK:
        return NotAVideo(f"`{name}` has sound but no picture; {allowed()}.")
    if exc.reason == TOO_COMPLEX:
        return VideoTooComplex(
            f"`{name}` is too complex for me to check: its file is cut into far more pieces "
            "than a video has. Export or save it again as a regular MP4 and attach the new "
            f"file; {allowed()}."
        )
    if exc.reason == NO_DURATION:
        return BrokenVideo(
            f"I can't tell how long `{name}` is: its file doesn't say. Export or save it again "
            "as a regular MP4 (not a fragmented or live recording) and attach the new file."
        )
    if exc.reason != DAMAGED:
        log.warning("unexpected container refusal %s", exc.reason)
    return BrokenVideo(
        f"`{name}` looks damaged or incomplete (was it still recording or uploading?). "
        f"Save or export it again and attach the new file; {allowed()}."
    )


def length_note(video_s: float, length_s: float, *, asked: float | None, max_s: float) -> str:
    """One line on how long the clip is when it isn't simply as long as the video."""
    if asked is not None and asked > video_s + 0.05:
        return f"Your video is {video_s:.1f} s long, so the clip is too (not {asked:g} s)."
    if length_s >= video_s - 0.05:
        return ""
    if asked is not None and asked <= max_s:
        return f"Restyling the first {length_s:g} s of your {video_s:.1f} s video, as asked."
    return (
        f"Your video is {video_s:.1f} s long; this model restyles at most {max_s:g} s, so the "
        f"clip is its first {length_s:g} s."
    )


def clip_frames(video_s: float, fps: int, *, asked: float | None, max_s: float) -> int:
    """Output frames at `fps`: as long as the video, or `asked`, but never past `max_s`."""
    seconds = min(video_s, max_s, asked if asked is not None else video_s)
    cap = int(max_s * fps + 1e-6)  # never a frame past what the backend renders
    return max(1, min(cap, round(seconds * fps)))
