"""How long until a clip is ready: the mean work time of recent clips, times the rounds ahead.

Rough on purpose: the same model renders similar clips in similar times, and a member wants
"about 2 min", not a schedule. The mean and the number of live workers are cached for a few
seconds, so a burst of requests does not query the gallery and scan Redis once each.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Mapping

from core.fairshare import ready_in
from gallery.store import GalleryStore
from jobs.admission import Admission

SAMPLE = 20  # recent clips averaged
CACHE_S = 5.0
NOT_TIMED = frozenset({"pickup", "load"})  # waiting in the queue and loading the model


def work_seconds(timings: Mapping[str, float]) -> float | None:
    """Seconds a worker spent on one clip, from a gallery row's `timings`; None if untimed."""
    spent = [seconds for stage, seconds in timings.items() if stage not in NOT_TIMED]
    return sum(spent) if spent else None


def mean_work_seconds(timings: Iterable[Mapping[str, float]]) -> float | None:
    samples = [s for t in timings if (s := work_seconds(t)) is not None]
    return sum(samples) / len(samples) if samples else None


def about(seconds: float) -> str:
    if seconds < 60:
        return f"about {max(1, round(seconds))} s"
    if seconds < 3600:
        return f"about {round(seconds / 60)} min"
    return f"about {seconds / 3600:.1f} h"


class Eta:
    def __init__(self, admission: Admission, store: GalleryStore) -> None:
        self.admission = admission  # its count of live workers, cached and shared
        self.store = store
        self._read_at = -CACHE_S
        self.mean_s: float | None = None
        self.workers = 0

    async def refresh(self) -> None:
        if time.monotonic() - self._read_at < CACHE_S:
            return
        self._read_at = time.monotonic()
        recent = await asyncio.to_thread(self.store.list_public, limit=SAMPLE)
        self.mean_s = mean_work_seconds(r.timings for r in recent)
        self.workers = sum((await self.admission.workers()).values())

    async def ready_in(self, position: int) -> float | None:
        """Seconds until the job at `position` is ready; None when there is nothing to go by."""
        await self.refresh()
        if self.mean_s is None or self.workers == 0:
            return None
        return ready_in(position, self.mean_s, self.workers)
