"""ETAs for clips not queued yet, from the place they previewed: the one ETA members see, read
cheaply.

A front end answers "queued" *before* its job is queued (so the clip can never finish before
its message exists), with the place its reservation previewed; `RenderTimes.ready_in` turns
that place into seconds as `Admission.eta` does for a queued job (`core.fairshare.clip_ready_in`
over the averages `Admission.record_render` keeps), so both say the same. That is the
per-request path: the averages are read at most once per `CACHE_S` (one read at a time), and
the live workers come from the admission's own cache, so a burst of 1,000 requests costs one
read, not 1,000, and no second walk of the line.
"""

from __future__ import annotations

import asyncio
import time

from redis.asyncio import Redis

from core.fairshare import Tier, clip_ready_in, estimate, route, size_class
from core.spec import RenderSpec
from jobs.admission import Admission
from jobs.keys import RENDER_TIMES_KEY
from jobs.places import text, timing_name

__all__ = ["CACHE_S", "RenderTimes"]

CACHE_S = 5.0


def _klass(spec: RenderSpec) -> int:
    return size_class(spec.width, spec.height, spec.num_frames, spec.steps)


class RenderTimes:
    """The averages `Admission.record_render` keeps, cached for `cache_s`, and the ETAs made
    from them for clips not queued yet."""

    def __init__(self, redis: Redis, admission: Admission, *, cache_s: float = CACHE_S) -> None:
        self.redis = redis
        self.admission = admission  # its count of live workers, cached and shared
        self.cache_s = cache_s
        self._means: dict[str, float] = {}
        self._read_at = -cache_s
        self._reading: asyncio.Future[dict[str, float]] | None = None

    async def means(self) -> dict[str, float]:
        """Average seconds of work on one clip, by "backend:size class" (fast clips by
        "backend+fast:size class", `jobs.places.timing_name`)."""
        if time.monotonic() - self._read_at < self.cache_s:
            return self._means
        if self._reading is None or self._reading.done():
            self._reading = asyncio.ensure_future(self._read())
        return await asyncio.shield(self._reading)

    async def _read(self) -> dict[str, float]:
        raw = await self.redis.hgetall(RENDER_TIMES_KEY)  # type: ignore[misc]
        self._means = {text(k): float(v) for k, v in raw.items()}
        self._read_at = time.monotonic()
        return self._means

    async def work_s(self, spec: RenderSpec) -> float | None:
        """Seconds of work one clip like `spec` takes; None before any clip of its backend."""
        means = await self.means()
        return estimate(means, timing_name(spec, means), _klass(spec))

    async def ready_in(self, spec: RenderSpec, position: int, tier: Tier) -> float | None:
        """Seconds until a clip for `spec` at `position` in `tier` is ready; None when there is
        nothing to go by (no clip of its backend timed, or no worker on its queue)."""
        workers = await self.admission.workers()
        count = workers.get(route(workers, spec.backend)[tier], 0)
        means = await self.means()
        return clip_ready_in(means, timing_name(spec, means), _klass(spec), position, count)
