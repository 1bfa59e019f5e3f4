"""Who renders next: fair admission order, tier routing and member quotas, as pure decisions.

Waiting jobs are grouped by tier, then guild, then member, each member's oldest first. An
admission takes one job: the tier (below), then the next guild after the tier's guild cursor,
then the next member after that guild's member cursor, then that member's oldest job. "Next
after" is in sorted key order with wrap-around, so a ring needs no bookkeeping when a member
comes or goes: a newcomer is simply served when the pointer reaches them.

Why guilds first, then members: a member's share is the cheapest thing to fake (alt accounts),
a guild's is not (the operator invites the bot), so one guild's crowd or raid can take at most
its guild's share, and every community keeps its share whatever happens in another. Inside a
guild every member gets the same share. DMs and the terminal share the guild key `NO_GUILD`.

Rounds, precisely. In one tier, a *guild round* (seen from a guild g that has waiting jobs) is
the span between two admissions of g; a *member round* (seen from member m of guild g) is the
span between two of g's admissions that go to m. The guarantees, for any arrival pattern:

- P1: while g has waiting jobs, no other guild is admitted twice within one guild round of g;
- P2: while m has waiting jobs, no other member of g is admitted twice within one member round
  of m: nobody gets more than one turn ahead of a waiting member;
- so a member's next job is admitted after at most (members of g with waiting jobs - 1) other
  turns of g, each at most (guilds with waiting jobs - 1) admissions apart: one round.

Tiers. Each tier has its arq queue; a worker reads one. When a tier has no live worker of its
own it shares the other tier's queue (`route`), and in a shared queue a relax job goes in at
least every `relax_every` admissions while relax has waiting jobs (and whenever fast has none).

Families. A fleet may run several model families (ltx for /create, wan_vace for edits): a job
waits and is admitted in a *lane*, its tier within its family (`lane`: "fast@ltx"), and each
family's two lanes feed that family's own two arq queues (`queue_of`: "reelbot:queue:fast@ltx").
Everything above holds within one family; families never wait behind one another. The rules
here (`route`, `targets`, `plan`) are per family; a member's caps are one set for all of them.

This module imports no redis and no discord; `jobs.admission` runs these rules inside Redis.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Final, Literal

from core.spec import DEFAULT_QUEUE, KEY_PREFIX

Tier = Literal["fast", "relax"]
TIERS: Final[tuple[Tier, Tier]] = ("fast", "relax")
NO_GUILD: Final = "-"
RELAX_QUEUE: Final = f"{KEY_PREFIX}queue:relax"
QUEUE_OF: Final[Mapping[Tier, str]] = {"fast": DEFAULT_QUEUE, "relax": RELAX_QUEUE}
LANE_MARK: Final = "@"  # in no tier name; family names are opaque strings after it

# tier -> guild -> member -> job ids, oldest first
Queues = Mapping[str, Mapping[str, Mapping[str, Sequence[str]]]]


# Timed phases that are not work on the clip: waiting in the queue and loading the model.
# Render-time averages, the ETA and the worker's metrics leave them out.
NOT_WORK = frozenset({"pickup", "load"})


@dataclass(frozen=True)
class Caps:
    """One member's effective limits (the caller applies role overrides)."""

    in_flight: int = 4  # jobs submitted and not finished: waiting, queued in arq, or rendering
    per_day: int = 50  # submissions since 00:00 UTC

    def __post_init__(self) -> None:
        if self.in_flight < 1 or self.per_day < 1:
            raise ValueError(f"caps must be at least 1, got {self}")


@dataclass(frozen=True)
class FairShare:
    """How the admission step fills the arq queues."""

    relax_every: int = 4  # K: in a shared queue, at most K-1 fast admissions while relax waits
    extra_depth: int = 1  # arq queue depth target = live workers + this, so no worker idles

    def __post_init__(self) -> None:
        if self.relax_every < 1 or self.extra_depth < 0:
            raise ValueError(f"relax_every must be >= 1 and extra_depth >= 0, got {self}")


@dataclass(frozen=True)
class Cursor:
    """Where each ring stopped: the last guild served per tier, the last member per guild."""

    guild: Mapping[str, str] = field(default_factory=dict)  # tier -> guild
    member: Mapping[str, str] = field(default_factory=dict)  # "tier:guild" -> member
    relax_debt: int = 0  # fast admissions into a shared queue in a row while relax waited


@dataclass(frozen=True)
class Admitted:
    tier: Tier
    guild: str
    member: str
    job: str
    queue: str


def guild_key(guild_id: int | None) -> str:
    return NO_GUILD if guild_id is None else str(guild_id)


def next_after(keys: Iterable[str], last: str | None) -> str | None:
    """The smallest key after `last`, wrapping round to the smallest; None when empty."""
    ordered = sorted(keys)
    if not ordered:
        return None
    if last is not None:
        for key in ordered:
            if key > last:
                return key
    return ordered[0]


def lane(tier: str, family: str) -> str:
    """Where a job of `family` waits in `tier` ("fast@ltx"): the scheduler's rings are per lane."""
    return f"{tier}{LANE_MARK}{family}"


def split_lane(name: str) -> tuple[str, str]:
    """(tier, family) of a lane or of a family's arq queue; family "" for an old un-suffixed one."""
    tier, _, family = name.partition(LANE_MARK)
    return tier, family


def queue_of(tier: Tier, family: str) -> str:
    """The arq queue a worker of `family` in `tier` reads ("reelbot:queue:fast@ltx")."""
    return lane(QUEUE_OF[tier], family)


def route(workers: Mapping[str, int], family: str) -> dict[Tier, str]:
    """The arq queue each tier of `family` goes to, given live workers per queue name.

    A tier goes to its family's own queue when a worker reads it; otherwise to the family's
    other tier's queue if a worker reads that one (sharing it); with no worker, to its own.
    """
    routes: dict[Tier, str] = {}
    pairs: tuple[tuple[Tier, Tier], ...] = (("fast", "relax"), ("relax", "fast"))
    for tier, other in pairs:
        own, theirs = queue_of(tier, family), queue_of(other, family)
        routes[tier] = own if workers.get(own, 0) or not workers.get(theirs, 0) else theirs
    return routes


def targets(workers: Mapping[str, int], share: FairShare, family: str) -> dict[str, int]:
    """How many jobs each arq queue of `family` should hold (counting those rendering): 0 with
    no worker."""
    return {
        queue: (count + share.extra_depth if count > 0 else 0)
        for tier in TIERS
        for queue in [queue_of(tier, family)]
        for count in [workers.get(queue, 0)]
    }


def families_of(workers: Mapping[str, int]) -> list[str]:
    """The families with a live worker, from live workers per arq queue, in name order."""
    found = {split_lane(q)[1] for q, n in workers.items() if n > 0}
    return sorted(f for f in found if f)


def pick_tier(tiers: Sequence[Tier], waiting: Mapping[Tier, bool], debt: int, every: int) -> Tier:
    """Of the tiers routed to one queue that have waiting jobs, the one to admit from."""
    ready = [t for t in tiers if waiting[t]]
    if len(ready) == 1:
        return ready[0]
    return "relax" if debt >= every - 1 else "fast"


def plan(
    queues: Queues,
    cursor: Cursor,
    free: Mapping[str, int],
    routes: Mapping[Tier, str],
    share: FairShare,
) -> tuple[list[Admitted], Cursor]:
    """The admissions that fill `free` slots per arq queue, in order, and the cursor after.

    Pass a large `free` to get the whole fair order (for queue positions).
    """
    left = {
        tier: {g: {m: list(jobs) for m, jobs in ms.items() if jobs} for g, ms in gs.items()}
        for tier, gs in queues.items()
    }
    for gs in left.values():
        for g in [g for g, ms in gs.items() if not ms]:
            del gs[g]
    guilds, members, debt = dict(cursor.guild), dict(cursor.member), cursor.relax_debt
    slots = dict(free)
    done: list[Admitted] = []
    while True:
        progressed = False
        for queue in dict.fromkeys(routes[t] for t in TIERS):
            tiers = [t for t in TIERS if routes[t] == queue]
            waiting = {t: bool(left.get(t)) for t in TIERS}
            if slots.get(queue, 0) <= 0 or not any(waiting[t] for t in tiers):
                continue
            tier = pick_tier(tiers, waiting, debt, share.relax_every)
            if len(tiers) > 1:
                debt = debt + 1 if tier == "fast" and waiting["relax"] else 0
            gs = left[tier]
            guild = next_after(gs, guilds.get(tier))
            assert guild is not None
            member = next_after(gs[guild], members.get(f"{tier}:{guild}"))
            assert member is not None
            job = gs[guild][member].pop(0)
            if not gs[guild][member]:
                del gs[guild][member]
                if not gs[guild]:
                    del gs[guild]
            guilds[tier], members[f"{tier}:{guild}"] = guild, member
            slots[queue] -= 1
            done.append(Admitted(tier, guild, member, job, queue))
            progressed = True
        if not progressed:
            return done, Cursor(guilds, members, debt)


def fair_order(
    queues: Queues, cursor: Cursor, routes: Mapping[Tier, str], share: FairShare
) -> list[Admitted]:
    """Every waiting job in the order it would be admitted if nothing else arrived."""
    total = sum(len(j) for gs in queues.values() for ms in gs.values() for j in ms.values())
    free = dict.fromkeys(routes.values(), total)
    return plan(queues, cursor, free, routes, share)[0]


# --- quotas -------------------------------------------------------------------------------


class QuotaExceeded(Exception):
    """A member is over a cap; the message, written for the member, says which and when they
    can ask again (the bot shows it as it is: see `core.errors.QuotaExceeded`)."""

    def __init__(self, message: str, *, cap: Literal["in_flight", "per_day"], used: int) -> None:
        self.cap = cap
        self.used = used
        super().__init__(message)


def next_reset(now: datetime) -> datetime:
    return datetime.combine(now.astimezone(UTC).date(), datetime.min.time(), UTC) + timedelta(
        days=1
    )


def day_stamp(now: datetime) -> str:
    day = now.astimezone(UTC)
    return f"{day.year:04}{day.month:02}{day.day:02}"  # strftime("%Y%m%d"), in a fifth the time


def duration(seconds: float) -> str:
    """`3 h 12 min`, `45 min`, `under a minute`."""
    minutes = int(seconds // 60)
    if minutes < 1:
        return "under a minute"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if hours else f"{minutes} min"


def in_flight_refusal(used: int, next_position: int | None) -> QuotaExceeded:
    clips = "clip" if used == 1 else "clips"
    where = f" (your next is #{next_position} in line)" if next_position else ""
    return QuotaExceeded(
        f"You have {used} {clips} waiting or rendering — wait for one to finish{where}.",
        cap="in_flight",
        used=used,
    )


def per_day_refusal(used: int, now: datetime) -> QuotaExceeded:
    left = (next_reset(now) - now).total_seconds()
    return QuotaExceeded(
        f"You've made {used} clips today — the limit resets at 00:00 UTC (in {duration(left)}).",
        cap="per_day",
        used=used,
    )


# --- ETA ----------------------------------------------------------------------------------


def ready_in(position: int, mean_s: float, workers: int) -> float:
    """Seconds until a job at `position` (1-based, counting jobs being rendered: arq keeps
    them in the queue until they finish) is done, if each job takes `mean_s`."""
    rounds_ahead = (position - 1) // max(1, workers)
    return (rounds_ahead + 1) * mean_s


def size_class(width: int, height: int, num_frames: int, steps: int) -> int:
    """Clips whose work (pixels x frames x steps) is within a factor of two share a class."""
    return max(1, width * height * num_frames * steps).bit_length()


def estimate(means: Mapping[str, float], backend: str, klass: int) -> float | None:
    """Seconds for one clip: its class's moving average, else the nearest class's, scaled."""
    known = {
        int(k.rsplit(":", 1)[1]): v for k, v in means.items() if k.rsplit(":", 1)[0] == backend
    }
    if not known:
        return None
    nearest = min(known, key=lambda c: (abs(c - klass), c))
    return known[nearest] * 2.0 ** (klass - nearest)


def clip_ready_in(
    means: Mapping[str, float], backend: str, klass: int, position: int, workers: int
) -> float | None:
    """Seconds until a clip of `backend` and size class `klass` at `position` is ready, with
    `workers` live workers on its queue; None when there is nothing honest to say: no clip of
    that backend timed yet (another model's times can be a hundred times off) or no worker."""
    mean = estimate(means, backend, klass)
    if mean is None or workers == 0:
        return None
    return ready_in(position, mean, workers)
