"""The one ETA members see: rounds of jobs ahead times the moving average of work time of clips
of the same backend and size class (`core.fairshare.clip_ready_in`).

The delivery consumer feeds the averages (`work_seconds` of every delivered clip, through
`Admission.record_render`); `Admission.eta` reads them for a job already queued. The queued
answer goes out *before* its job is queued (so the clip can never finish before its message
exists), so it asks `RenderTimes.ready_in` (`jobs.render_times`, shared with the REST API) with
the place it previewed instead: the averages cached, one read a burst.

With no clip of the backend timed yet there is no ETA at all (the position is still shown): a
number borrowed from another model or a guess would be wrong by minutes, and the first
delivered clip teaches it. A size never timed is scaled from the nearest one that was.
"""

from __future__ import annotations

from collections.abc import Mapping

from core.fairshare import NOT_WORK
from jobs.render_times import CACHE_S, RenderTimes

__all__ = ["CACHE_S", "RenderTimes", "work_seconds"]


def work_seconds(timings: Mapping[str, float]) -> float | None:
    """Seconds a worker spent on one clip, from a gallery row's `timings`; None if untimed."""
    spent = [seconds for stage, seconds in timings.items() if stage not in NOT_WORK]
    return sum(spent) if spent else None
