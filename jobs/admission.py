"""The Redis side of fair sharing: member queues, quotas, and the step that feeds arq.

A submitted job waits in its member's list, with the rings of guilds and members that have
waiting jobs kept as sorted sets (the layout is in `jobs.keys`). The admission step moves jobs
into the arq queues while each is shallower than its live workers plus `FairShare.extra_depth`,
in the order `core.fairshare` defines (`jobs/lua/admit.lua` is a port of `fairshare.plan`, and
the tests check that both agree).

The step is one Lua script: it pops the job, writes arq's job key and adds it to arq's queue
exactly as `ArqRedis.enqueue_job(_job_id=gid)` would (skipping both when arq already has the
job or its result), and moves the cursors. Redis runs a script to the end or not at all
whatever happens to the bot, so there is no moment at which a job is popped but not enqueued,
any number of bot processes may run the step at once, and no lock is needed. The price is
knowing arq's key layout; arq is pinned (0.28.0) and the tests run a real arq worker on it.

A front end holds the member's place before it answers anyone (`reserve`, in the same script
as `enqueue`: `jobs/lua/submit.lua`), so of a burst of requests from one member the first ones
up to the cap get places and the rest are refused, before any of them is answered in public.
The place becomes the waiting job on `enqueue`; `release` gives it back if the request fails in
between, and a place whose bot died without doing either lapses after `RESERVATION_TTL`. A place
counts against the daily cap while it is held, and in the day's count once it is queued, so one
that lapsed or was given back costs the member nothing that day.

Places in line and ETAs are read by `jobs.places`; `Admission` answers for both, so a caller
holds one object per process.

A fleet may run several model families: a job waits in the lane of its tier and its family
(`spec.backend`; `core.fairshare.lane`), and the step runs `admit.lua` once per family with live
workers, filling that family's own arq queues. The caps stay one set per member.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from redis.asyncio import Redis

from core.fairshare import (
    Caps,
    FairShare,
    QuotaExceeded,
    Tier,
    families_of,
    guild_key,
    in_flight_refusal,
    lane,
    per_day_refusal,
    route,
    targets,
)
from core.spec import RENDER_TASK, ProgressEvent, RenderJob, RenderSpec, serialize_job
from core.story import cost
from jobs.events import EVENTS_MAXLEN, EVENTS_TTL_S, stamped
from jobs.keys import CURSOR_KEY, cancel_key, day_key, events_key
from jobs.liveness import live_workers
from jobs.pipelined import PipelinedRedis
from jobs.places import Places, Preview, Snapshot, text
from jobs.replies import reply
from jobs.scripts import LAYOUT, SchedulerScripts

__all__ = ["Admission", "Preview", "Snapshot", "arq_head", "cancel_requested"]

log = logging.getLogger(__name__)

CANCEL_TTL = timedelta(days=1)
DAY_TTL = timedelta(days=2)
# Discord's interaction token lives 15 minutes: after that a request can't be answered anyway.
RESERVATION_TTL = timedelta(minutes=15)
UNLIMITED = 2**53  # a cap nobody reaches: the reconciler's re-queue


async def cancel_requested(redis: Redis, generation_id: str) -> bool:
    return bool(await reply(redis.exists(cancel_key(generation_id))))


def arq_head(job: RenderJob) -> str:
    """arq's serialized job for `render_clip(job)` up to its enqueue time, which Lua appends."""
    data: dict[str, Any] = {
        "t": None,
        "f": RENDER_TASK,
        "a": [job.model_dump(mode="json")],
        "k": {},
        "et": 0,
    }
    full = serialize_job(data).decode()
    assert full.endswith('"et":0}')
    return full[: -len("0}")]


class Admission:
    """Member queues in Redis and the admission step; one per bot process, any number of them.

    `clock` returns seconds since the epoch (tests move it to cross midnight).
    """

    def __init__(
        self,
        redis: Redis,
        *,
        share: FairShare | None = None,
        poll_s: float = 0.5,
        batch: int = 32,
        expires: timedelta = timedelta(days=7),
        workers_cache_s: float = 1.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.redis = redis
        self.share = share or FairShare()
        self.poll_s = poll_s
        self.batch = batch
        self.expires = expires
        self.workers_cache_s = workers_cache_s
        self.clock = clock
        self._kick = asyncio.Event()
        self._workers: dict[str, int] = {}
        self._workers_at = -workers_cache_s
        self._workers_refresh: asyncio.Future[dict[str, int]] | None = None
        self.scripts = SchedulerScripts.register(redis)
        # What every /create sends (usage, submit) shares round trips with the other requests.
        self.pipelined = PipelinedRedis(redis)
        self.places = Places(
            redis,
            scripts=self.scripts,
            pipelined=self.pipelined,
            share=self.share,
            workers=self.workers,
        )

    # --- submitting ---------------------------------------------------------------------

    async def enqueue(
        self,
        job: RenderJob,
        *,
        caps: Caps | None,
        tier: Tier = "fast",
        announce: ProgressEvent | None = None,
    ) -> None:
        """Put a job in its member's queue, or QuotaExceeded; a repeated call is a no-op.

        A job whose place was reserved (`reserve`) takes it, whatever the caps say now; without
        a reservation (or after it lapsed) the caps are checked here. `caps=None` (the
        reconciler re-queueing a job Redis lost): no caps, not counted again. `announce` is
        appended to the job's progress events if, and only if, it was queued, in the same
        round trip.
        """
        spec = job.spec
        gid = job.generation_id
        now = datetime.fromtimestamp(self.clock(), UTC)
        keys = [day_key(spec.owner_id, now)]
        args: list[str | int] = [
            *LAYOUT,
            "queue",
            gid,
            lane(tier, spec.backend),
            guild_key(spec.guild_id),
            spec.owner_id,
            arq_head(job),
            UNLIMITED if caps is None else caps.in_flight,
            UNLIMITED if caps is None else caps.per_day,
            int(DAY_TTL.total_seconds()),
            0 if caps is None else cost(spec.mode, spec.prompt, spec.retake),  # a story: per shot
        ]
        if announce is not None:
            keys.append(events_key(gid))
            args += [stamped(announce).model_dump_json(), EVENTS_MAXLEN, EVENTS_TTL_S]
        status, used = await self.pipelined.run_script(self.scripts.submit, keys=keys, args=args)
        if status == -1:
            raise in_flight_refusal(used, await self.next_position(spec.owner_id))
        if status == -2:
            raise per_day_refusal_for(spec, used, now)
        self.kick()

    async def reserve(
        self,
        generation_id: str,
        spec: RenderSpec,
        caps: Caps,
        *,
        ttl: timedelta = RESERVATION_TTL,
    ) -> Preview | None:
        """Hold one of the member's places for `generation_id`, or QuotaExceeded: atomic with
        every other reservation and enqueue, so requests get places in the order they reach
        Redis. Returns the member's places in use (this one included), their clips made today
        before it, and where the job would stand in either tier of its family (as
        `preview_position`); None
        if the job is already known (reserved or queued by an earlier try): nothing to hold or
        release."""
        owner = spec.owner_id
        now = datetime.fromtimestamp(self.clock(), UTC)
        day = day_key(owner, now)
        args = [*LAYOUT, "reserve", generation_id, owner, caps.in_flight, caps.per_day]
        args += [int(ttl.total_seconds() * 1000), cost(spec.mode, spec.prompt, spec.retake)]
        try:
            held, (_, _, _, fast, relax) = await asyncio.gather(
                self.pipelined.run_script(self.scripts.submit, keys=[day], args=args),
                self.places.usage(
                    owner, day, None, guild=guild_key(spec.guild_id), family=spec.backend
                ),
            )
        except BaseException:
            # Its answer was lost (Redis failed on the way, or the request was cancelled), but
            # the place may be held all the same: give it back (sent after the reservation, so
            # never before it), or it would hold one of the member's places for 15 minutes.
            await asyncio.shield(self._give_back(generation_id))
            raise
        status, used, *made = (int(v) for v in held)  # a refusal says no more
        if status == -1:
            raise in_flight_refusal(used, await self.next_position(owner))
        if status == -2:
            raise per_day_refusal_for(spec, used, now)
        return Preview(used, made[0], {"fast": fast, "relax": relax}) if status == 1 else None

    async def release(self, generation_id: str) -> bool:
        """Give back a place `reserve` held (the request failed before it was queued), and its
        count today. False if there was none: queued already, released, or lapsed."""
        args = [*LAYOUT, "release", generation_id]
        return bool(await self.pipelined.run_script(self.scripts.submit, args=args))

    async def _give_back(self, generation_id: str) -> None:
        try:
            await self.release(generation_id)
        except Exception as exc:  # the error that made us release matters more
            log.warning(
                "could not give back a place whose reservation failed (it lapses): %r",
                exc,
                extra={"generation_id": generation_id},
            )

    async def check(self, owner_id: str, caps: Caps) -> tuple[int, int]:
        """QuotaExceeded if `enqueue` would refuse now: call it before writing anything. Else
        the member's usage, as `usage` gives it. One round trip, refusals included."""
        now = datetime.fromtimestamp(self.clock(), UTC)
        live, today, at = await self.places.usage(owner_id, day_key(owner_id, now), caps)
        return self._allowed(live, today, at, caps, now)

    @staticmethod
    def _allowed(live: int, today: int, at: int, caps: Caps, now: datetime) -> tuple[int, int]:
        if today >= caps.per_day:
            raise per_day_refusal(today, now)
        if live >= caps.in_flight:
            raise in_flight_refusal(live, at or None)
        return live, today

    # --- admitting ----------------------------------------------------------------------

    def kick(self) -> None:
        """Ask the loop for an admission step now (after a submit, or a finished clip)."""
        self._kick.set()

    async def workers(self) -> dict[str, int]:
        """Live workers per arq queue, from their heartbeat keys (cached briefly).

        One refresh at a time: in a burst every request would otherwise scan the keyspace
        at once when the cache runs out (measured: a third of the bot's CPU in a burst)."""
        if time.monotonic() - self._workers_at < self.workers_cache_s:
            return self._workers
        if self._workers_refresh is None or self._workers_refresh.done():
            self._workers_refresh = asyncio.ensure_future(self._scan_workers())
        return await asyncio.shield(self._workers_refresh)

    async def _scan_workers(self) -> dict[str, int]:
        counts = await live_workers(self.redis)
        self._workers, self._workers_at = counts, time.monotonic()
        return counts

    async def admit(self) -> list[str]:
        """One admission step: fill each family's arq queues up to their targets; the ids
        admitted. A family with no live worker has targets of 0: its jobs wait."""
        workers = await self.workers()
        admitted: list[str] = []
        for family in families_of(workers):
            routes, depth = route(workers, family), targets(workers, self.share, family)
            while True:
                batch = await self._step(family, routes, depth)
                admitted += batch
                if len(batch) < self.batch:
                    break
        return admitted

    async def _step(self, family: str, routes: dict[Tier, str], depth: dict[str, int]) -> list[str]:
        """One call of `admit.lua` for `family`: up to `batch` admissions."""
        fast, relax = routes["fast"], routes["relax"]
        batch = await self.scripts.admit(
            keys=[CURSOR_KEY, fast, relax],
            args=[
                *LAYOUT,
                self.batch,
                self.share.relax_every,
                int(self.expires.total_seconds() * 1000),
                depth[fast],
                depth[relax],
                family,
            ],
        )
        return [text(g) for g in batch]

    async def run(self) -> None:
        """Admit after every kick, and every `poll_s` anyway (a background task of the bot)."""
        while True:
            self._kick.clear()
            try:
                for gid in await self.admit():
                    log.info("admitted", extra={"generation_id": gid})
            except asyncio.CancelledError:
                raise
            except Exception:  # a Redis blip must not end the loop
                log.exception("admission step failed")
            with contextlib.suppress(TimeoutError):
                # Not wait_for: on 3.11 it swallows a cancel that comes just after a kick,
                # and the loop (and whoever awaits its end) would run on for ever.
                async with asyncio.timeout(self.poll_s):
                    await self._kick.wait()

    # --- cancelling ---------------------------------------------------------------------

    async def cancel(self, generation_id: str) -> bool:
        """True: taken out before any worker had it (waiting, or queued in arq). False: the
        cancel key is set, and the worker rendering it stops at its next step."""
        ttl = int(CANCEL_TTL.total_seconds())
        out = await self.scripts.cancel(
            keys=[cancel_key(generation_id)], args=[*LAYOUT, generation_id, ttl]
        )
        return bool(out)

    # --- positions and ETA (jobs.places) ------------------------------------------------

    async def snapshot(self) -> Snapshot:
        return await self.places.snapshot()

    async def positions(self) -> dict[str, int]:
        """Every waiting job's place in line for its family's arq queue (1 = next to render,
        counting the jobs already in arq and rendering). Replays the whole order, so it costs all
        waiting jobs: for listings, not the per-/create path (`position`, `preview_position`)."""
        return await self.places.positions()

    async def position(self, generation_id: str) -> int | None:
        """1-based place in line; None when the job is neither waiting nor queued in arq."""
        return await self.places.position(generation_id)

    async def preview_position(self, spec: RenderSpec, tier: Tier = "fast") -> int:
        """Where a job for `spec` would stand if it were queued now (for the reply that goes
        out before it is queued)."""
        return await self.places.preview(
            tier, spec.backend, guild_key(spec.guild_id), spec.owner_id
        )

    async def usage(self, owner_id: str) -> tuple[int, int]:
        """(jobs waiting, queued or rendering; submissions today) for /info."""
        now = datetime.fromtimestamp(self.clock(), UTC)
        live, today, _ = await self.places.usage(owner_id, day_key(owner_id, now), None)
        return live, today

    async def next_position(self, owner_id: str) -> int | None:
        """The best place in line of any waiting job of the member's (for refusals)."""
        return await self.places.next_position(owner_id)

    async def record_render(self, spec: RenderSpec, seconds: float, alpha: float = 0.3) -> None:
        """Feed one finished clip's work time into its backend and size class's average."""
        await self.places.record_render(spec, seconds, alpha)

    async def eta(self, generation_id: str, spec: RenderSpec) -> float | None:
        """Seconds until the clip is ready: rounds of jobs ahead times its class's average."""
        return await self.places.eta(generation_id, spec)


def per_day_refusal_for(spec: RenderSpec, used: int, now: datetime) -> QuotaExceeded:
    """The daily cap's refusal; for a story, also what it needed (a clip per shot)."""
    refusal = per_day_refusal(used, now)
    shots = cost(spec.mode, spec.prompt, spec.retake)
    if shots == 1:
        return refusal
    return QuotaExceeded(
        f"{refusal} A story counts each of its shots, and this one has {shots}: "
        "try fewer shots, or wait for the reset.",
        cap="per_day",
        used=used,
    )
