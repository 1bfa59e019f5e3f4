"""What reading one video's headers may cost, so a crafted file can't take the bot's CPU.

The container readers are pure Python. A 25 MB WebM made of four million tiny blocks, or of
twelve million empty `Void` elements, once cost 12 s of CPU to walk. Every reader charges one
`Budget` per file for each element, box or sample entry it visits, and gives up past
`MAX_ENTRIES` entries or `MAX_SECONDS` with `ContainerError(TOO_COMPLEX)`, which the member
reads as "too complex to check" (`intake.media.videos`).

Real files stay far inside. The worst case is a browser recording with no `Duration` and
clusters of unknown size, where every block is visited: at 30 fps with Opus sound that is 80
blocks a second, so even a 25 MB one at a low 300 kbps (11 minutes) has about 53,000. A
fragmented MP4 charges one entry per video sample (30 a second). Entries bound the work whatever
the machine (about 1.5 µs each: 0.3 s at the bound); the deadline is a backstop for a slow or
busy one.

Depth needs no bound of its own: the readers never recurse, they descend along fixed paths (at
most five levels, moov → trak → mdia → minf → stbl), and no entry is visited twice except the
first and last clusters of a WebM without `Duration`.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from intake.media.video_info import TOO_COMPLEX, ContainerError

MAX_ENTRIES = 200_000
MAX_SECONDS = 3.0
_CLOCK_EVERY = 4096  # entries between two looks at the clock


class Budget:
    """Entries left to visit in one file, and the moment the reading must end."""

    def __init__(
        self,
        *,
        entries: int = MAX_ENTRIES,
        seconds: float = MAX_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.entries = entries
        self.left = entries
        self.clock = clock
        self.deadline = clock() + seconds
        self._next_look = _CLOCK_EVERY

    def spend(self, entries: int = 1) -> None:
        """Charge `entries` visits; ContainerError(TOO_COMPLEX) once past either bound."""
        self.left -= entries
        if self.left < 0:
            raise ContainerError(TOO_COMPLEX, f"more than {self.entries} entries")
        self._next_look -= entries
        if self._next_look <= 0:
            self._next_look = _CLOCK_EVERY
            if self.clock() > self.deadline:
                raise ContainerError(TOO_COMPLEX, "took too long to read")
