"""What decoding one untrusted file may cost, and the errors a member reads when it costs more.

A member's upload is a few hundred kilobytes that may decode to gigabytes: a tiny clip at 240
frames a second, huge frames, or a header that says 1024×1024 while the frames are 8192×8192
(the bot reads headers only). So every file a worker or `reelbot verify`/`scan` decodes gets a
`MediaBudget` it cannot lift: the size of each decoded frame (checked on the frame, never the
header), how many frames and pixels are decoded in all, and the CPU time, wall time and memory
of the child process the decode runs in (`worker.media_sandbox`).

The limits are far above what any clip a model renders needs (a clip reads at most ~10 s of
video), and far below what takes a worker down. Over budget is `OverBudget`, a kind of
`UnreadableVideo`: the clip fails with the message below and is never retried (the same file
would cost the same again).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

MiB = 1024 * 1024
MAX_SIDE = 4096  # the bot's own limit for /restyle and /animate: nothing larger is taken


@dataclass(frozen=True)
class MediaBudget:
    """Limits on decoding one file; `decode` checks the first three, the sandbox the rest."""

    max_frame_pixels: int = MAX_SIDE * MAX_SIDE  # each decoded frame, as decoded
    max_frames: int = 3600  # frames decoded in all: a minute at 60 fps
    max_pixels: int = 4_000_000_000  # pixels decoded in all: 8 s of 4K at 60 fps
    cpu_s: int = 60  # CPU seconds of the child, all its threads together
    wall_s: float = 120.0  # seconds until the child is killed, whatever it is doing
    memory_bytes: int = 2048 * MiB  # the child's address space, past what it returns
    threads: int = 2  # decoder threads (each holds frames of its own)


DEFAULT_BUDGET = MediaBudget()

# Advice for most refusals: what to send instead.
EXPORT = "export it again as an H.264 MP4 (1080p or smaller, 30 fps) and send that"


class UnreadableMedia(ValueError):
    """A member's input (or a file given to `reelbot verify`/`scan`) that can't be used.

    `str()` is the member's message: what was wrong (`reason`), then what to send instead
    (`advice`); the CLI prints the reason alone. A ValueError: the worker never retries it.
    """

    def __init__(self, reason: str, advice: str = EXPORT) -> None:
        super().__init__(f"{reason}; {advice}" if advice else reason)
        self.reason, self.advice = reason, advice


class UnreadableVideo(UnreadableMedia):
    """A video whose frames can't be decoded (damaged, or a codec reelbot does not decode)."""


class NotAVideo(UnreadableVideo):
    """A file that is no video at all, whatever its name says (a PNG renamed `.mp4`)."""


class OverBudget(UnreadableVideo):
    """A video that would cost more to decode than `MediaBudget` allows."""


class UnreadableImage(UnreadableMedia):
    """An input picture that can't be read, or is larger than any picture the bot stores."""


DAMAGED = "your video couldn't be decoded (it may be damaged, or use a codec I can't read)"
NO_FRAMES = "your video has no frames I could read"


def frame_too_large(
    width: int, height: int, declared: tuple[int, int] | None, budget: MediaBudget
) -> OverBudget:
    said = f" (its header says {declared[0]}×{declared[1]})" if declared else ""
    side = math.isqrt(budget.max_frame_pixels)
    return OverBudget(
        f"your video's frames are {width}×{height} pixels{said}, larger than the "
        f"{side}×{side} I can take"
    )


def too_many_frames(budget: MediaBudget) -> OverBudget:
    return OverBudget(
        f"your video has more frames than I decode for one clip (over {budget.max_frames} "
        f"frames or {budget.max_pixels / 1e9:.1f} billion pixels)"
    )


def too_costly(what: str) -> OverBudget:
    """The sandbox stopped the decode: `what` names the limit (e.g. "60 s of CPU time")."""
    return OverBudget(f"decoding your video took more than this server allows ({what})")
