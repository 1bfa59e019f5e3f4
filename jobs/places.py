"""Where jobs stand in line and when a clip will be ready: the reading side of the scheduler.

`position`, `preview` and `next_position` run `places.lua`, which counts from the depth sets the
scripts keep (the members with at least j jobs waiting): a place costs the member's own jobs
ahead of it and the guilds, not the members of the guild nor all waiting jobs, so they are for
the per-request path. `positions` replays the whole fair
order from a `snapshot` (for listings, metrics and tests). The ETA is the rounds of jobs ahead
times the moving average of the work time of clips of the same backend and size class, which
`record_render` feeds as clips are delivered.

Every place is counted within the job's model family (its lanes and arq queues): a member
waiting for an edit is not counted behind another family's /create jobs.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

from core.fairshare import (
    QUEUE_OF,
    TIERS,
    Caps,
    Cursor,
    FairShare,
    Tier,
    clip_ready_in,
    fair_order,
    families_of,
    route,
    size_class,
    split_lane,
)
from core.spec import RenderSpec
from jobs.keys import CURSOR_KEY, RENDER_TIMES_KEY, sched_job_key
from jobs.pipelined import PipelinedRedis
from jobs.replies import reply
from jobs.scripts import LAYOUT, SchedulerScripts

__all__ = ["Places", "Preview", "Snapshot", "text"]

WorkerCounts = Callable[[], Awaitable[dict[str, int]]]


Lanes = dict[str, dict[str, dict[str, list[str]]]]  # tier -> guild -> member -> ids


@dataclass(frozen=True)
class Snapshot:
    """Every waiting job (family -> tier -> guild -> member -> ids, oldest first), each
    family's cursor, and the depth of each family's arq queues."""

    queues: dict[str, Lanes]
    cursors: dict[str, Cursor]
    depth: dict[str, int]

    def cursor(self, family: str) -> Cursor:
        return self.cursors.get(family, Cursor())

    def waiting(self, tier: Tier) -> int:
        """Jobs waiting in `tier`, every family's."""
        lanes = (tiers.get(tier, {}) for tiers in self.queues.values())
        return sum(len(ids) for guilds in lanes for ms in guilds.values() for ids in ms.values())

    def queued(self, tier: Tier) -> int:
        """Jobs in the arq queues of `tier`, every family's (those rendering included)."""
        return sum(n for q, n in self.depth.items() if split_lane(q)[0] == QUEUE_OF[tier])


def read_cursors(fields: Mapping[str, str]) -> dict[str, Cursor]:
    """Each family's cursor from the cursor hash: g:<lane>, m:<lane>:<guild>, relax_debt@<f>."""
    guild: dict[str, dict[str, str]] = {}
    member: dict[str, dict[str, str]] = {}
    debt: dict[str, int] = {}
    for key, value in fields.items():
        if key.startswith("relax_debt@"):
            debt[key.partition("@")[2]] = int(value)
        elif key.startswith(("g:", "m:")):
            tier, family = split_lane(key[2:])
            family, sep, g = family.partition(":")
            if not family:  # an old release's un-suffixed lane
                continue
            if key.startswith("g:"):
                guild.setdefault(family, {})[tier] = value
            elif sep:
                member.setdefault(family, {})[f"{tier}:{g}"] = value
    families = set(guild) | set(member) | set(debt)
    return {
        f: Cursor(guild.get(f, {}), member.get(f, {}), debt.get(f, 0)) for f in sorted(families)
    }


@dataclass(frozen=True)
class Preview:
    """A member's usage, and where a new job of theirs would stand in each tier (1 = next)."""

    live: int
    today: int
    place: dict[Tier, int]


def timing_name(spec: RenderSpec, means: Mapping[str, float] | None = None) -> str:
    """The name a clip's render times are kept under in RENDER_TIMES_KEY ("name:size class").

    A full-schedule clip keeps the backend's name, as every key did before `-fast` existed (so
    the averages already there still count); a fast clip is timed apart as "backend+fast" (`+`
    is in no backend name), since a distilled or cached render costs less than its step count
    says. Reading (`means` given), a fast clip with no fast clip timed yet borrows the
    backend's full-schedule times, scaled by size class (which counts steps): better than none.
    """
    if spec.quality == "hq":
        return spec.backend
    name = f"{spec.backend}+{spec.quality}"
    if means is None or any(key.rsplit(":", 1)[0] == name for key in means):
        return name
    return spec.backend


def text(value: Any) -> str:
    """A Redis reply (bytes) or an argument as str."""
    return value.decode() if isinstance(value, bytes) else str(value)


class Places:
    """Reads places in line, usage and ETAs; `workers` gives the live workers per arq queue
    (which decides where each tier is routed)."""

    def __init__(
        self,
        redis: Redis,
        *,
        scripts: SchedulerScripts,
        pipelined: PipelinedRedis,
        share: FairShare,
        workers: WorkerCounts,
    ) -> None:
        self.redis = redis
        self.scripts = scripts
        self.pipelined = pipelined
        self.share = share
        self.workers = workers

    async def snapshot(self) -> Snapshot:
        raw_cursor, entries, raw_depths = await self.scripts.snapshot(
            keys=[CURSOR_KEY], args=[*LAYOUT, QUEUE_OF["fast"], QUEUE_OF["relax"]]
        )
        flat = [text(v) for v in raw_cursor]
        cursors = read_cursors(dict(zip(flat[::2], flat[1::2], strict=True)))
        queues: dict[str, Lanes] = {}
        for raw_lane, guild, member, gids in entries:
            tier, family = split_lane(text(raw_lane))
            lanes = queues.setdefault(family, {t: {} for t in TIERS})
            lanes[tier].setdefault(text(guild), {})[text(member)] = [text(g) for g in gids]
        depths = [text(v) for v in raw_depths]
        depth = {q: int(n) for q, n in zip(depths[::2], depths[1::2], strict=True)}
        return Snapshot(queues, cursors, depth)

    async def positions(self) -> dict[str, int]:
        """Every waiting job's place in line by a replay of the whole fair order (each family's
        within its own queues)."""
        snap = await self.snapshot()
        workers = await self.workers()
        places: dict[str, int] = {}
        for family, lanes in snap.queues.items():
            routes = route(workers, family)
            ahead = {q: snap.depth.get(q, 0) for q in set(routes.values())}
            for admission in fair_order(lanes, snap.cursor(family), routes, self.share):
                ahead[admission.queue] += 1
                places[admission.job] = ahead[admission.queue]
        return places

    async def position(self, generation_id: str) -> int | None:
        """1-based place in line; None when the job is neither waiting nor queued in arq."""
        return await self._where("job", generation_id)

    async def preview(self, tier: Tier, family: str, guild: str, member: str) -> int:
        """Where a job that joined the member's list in `tier`, `family` and `guild` would
        stand."""
        place = await self._where("preview", tier, family, guild, member)
        assert place is not None, "a previewed job always has a place"
        return place

    async def next_position(self, owner_id: str) -> int | None:
        """The best place in line of any waiting job of the member's."""
        return await self._where("member", owner_id)

    async def usage(
        self,
        owner_id: str,
        day_key: str,
        caps: Caps | None,
        *,
        guild: str | None = None,
        family: str = "",
    ) -> list[int]:
        """[live, today, best place when over the in-flight cap (, places of a new job of
        `family` in `guild`: fast, relax)] in one round trip, shared with other requests."""
        limits = (0, 0) if caps is None else (caps.in_flight, caps.per_day)
        args = [*await self._head(), "usage", owner_id, *limits]
        usage = await self.pipelined.run_script(
            self.scripts.places,
            keys=[CURSOR_KEY, day_key],
            args=args if guild is None else [*args, guild, family],
        )
        return [int(v) for v in usage]

    async def _where(self, *what: str) -> int | None:
        """One call of `places.lua`: cost bounded by the place, not by all waiting jobs."""
        args = [*await self._head(), *what]
        place = await self.scripts.places(keys=[CURSOR_KEY], args=args)
        return None if place is None else int(place)

    async def _head(self) -> list[str | int]:
        """The ARGV every `places.lua` call starts with: the layout, relax_every, and where
        each tier of each family with live workers goes."""
        workers = await self.workers()
        head: list[str | int] = [*LAYOUT, self.share.relax_every, QUEUE_OF["fast"]]
        head.append(QUEUE_OF["relax"])
        families = families_of(workers)
        head.append(len(families))
        for family in families:
            routes = route(workers, family)
            head += [family, routes["fast"], routes["relax"]]
        return head

    async def record_render(self, spec: RenderSpec, seconds: float, alpha: float) -> None:
        """Feed one finished clip's work time into its backend and size class's average."""
        klass = size_class(spec.width, spec.height, spec.num_frames, spec.steps)
        await self.scripts.record_render(
            keys=[RENDER_TIMES_KEY], args=[f"{timing_name(spec)}:{klass}", seconds, alpha]
        )

    async def eta(self, generation_id: str, spec: RenderSpec) -> float | None:
        """Seconds until the clip is ready: rounds of jobs ahead times its class's average."""
        position = await self.position(generation_id)
        if position is None:
            return None
        raw_means = await reply(self.redis.hgetall(RENDER_TIMES_KEY))
        means = {text(k): float(v) for k, v in raw_means.items()}
        klass = size_class(spec.width, spec.height, spec.num_frames, spec.steps)
        raw_tier, queue = await reply(
            self.redis.hmget(sched_job_key(generation_id), ["tier", "queue"])
        )
        workers = await self.workers()
        tier: Tier = "relax" if text(raw_tier or b"").startswith("relax") else "fast"
        where = text(queue) if queue else route(workers, spec.backend)[tier]
        name = timing_name(spec, means)
        return clip_ready_in(means, name, klass, position, workers.get(where, 0))
