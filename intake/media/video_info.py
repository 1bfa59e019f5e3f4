"""What a container reader finds in a video's headers (`VideoInfo`), or why not (`ContainerError`).

Shared by `intake.media.containers` and its two readers (`intake.media.iso_bmff`,
`intake.media.matroska`); `intake.media.containers` is where callers import these names from.
"""

from __future__ import annotations

from dataclasses import dataclass

# ContainerError.reason values
NOT_VIDEO = "not-video"  # not a container we read (see `sniff` for what it is instead)
DAMAGED = "damaged"  # truncated or inconsistent headers
NO_VIDEO_TRACK = "no-video-track"  # a container with sound only (an .m4a, a voice memo)
NO_DURATION = "no-duration"  # nothing says how long it is (a fragmented MP4 without `mehd`)
TOO_COMPLEX = "too-complex"  # more entries than a real video has (`intake.media.budget`)


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
