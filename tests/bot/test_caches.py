"""The per-process caches in front of `/settings` defaults and bans, on a real SQLite database.

"Another process" below is a second store on the same database, writing behind the cache's back.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from gallery.community import CommunityStore
from gallery.db import make_engine, migrate
from gallery.models import utcnow
from gallery.moderation import ModerationStore
from intake.caches import Bans, DefaultFlags, TTLCache

ALICE = "discord:1"
GUILD, OTHER_GUILD = 10, 20


class Clock:
    """Monotonic seconds for the TTL and a wall clock for ban expiry, moved by the test."""

    def __init__(self) -> None:
        self.seconds = 1000.0
        self.wall = utcnow()

    def __call__(self) -> float:
        return self.seconds

    def now(self) -> datetime:
        return self.wall

    def advance(self, seconds: float) -> None:
        self.seconds += seconds
        self.wall += timedelta(seconds=seconds)


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'reelbot.db'}")
    migrate(engine)
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.fixture
def clock() -> Clock:
    return Clock()


# --- the generic cache ---------------------------------------------------------------------------


async def test_a_cache_loads_once_until_the_ttl_passes(clock: Clock) -> None:
    cache: TTLCache[str, int] = TTLCache(ttl=60, clock=clock)
    loads: list[str] = []

    async def load() -> int:
        loads.append("x")
        return len(loads)

    assert await cache.fetch("k", load) == 1
    clock.advance(59)
    assert await cache.fetch("k", load) == 1
    clock.advance(1)
    assert await cache.fetch("k", load) == 2
    cache.forget("k")
    assert await cache.fetch("k", load) == 3


async def test_a_cache_keeps_at_most_maxsize_entries_oldest_out_first(clock: Clock) -> None:
    cache: TTLCache[int, int] = TTLCache(ttl=60, maxsize=3, clock=clock)
    for key in range(5):
        await cache.fetch(key, lambda key=key: asyncio.sleep(0, result=key))
    assert len(cache) == 3
    assert await cache.fetch(0, lambda: asyncio.sleep(0, result=-1)) == -1  # evicted, loaded again
    assert await cache.fetch(4, lambda: asyncio.sleep(0, result=-1)) == 4


async def test_a_load_that_races_a_forget_is_not_kept(clock: Clock) -> None:
    cache: TTLCache[str, str] = TTLCache(ttl=60, clock=clock)
    reading, changed = asyncio.Event(), asyncio.Event()

    async def stale() -> str:
        reading.set()
        await changed.wait()
        return "old"

    slow = asyncio.create_task(cache.fetch("k", stale))
    await reading.wait()
    cache.forget("k")  # the value changed while the old one was being read
    changed.set()
    assert await slow == "old"
    assert await cache.fetch("k", lambda: asyncio.sleep(0, result="new")) == "new"


async def test_concurrent_fetches_of_a_key_share_one_load(clock: Clock) -> None:
    cache: TTLCache[str, int] = TTLCache(ttl=60, clock=clock)
    gate = asyncio.Event()
    loads: list[str] = []

    async def load() -> int:
        loads.append("x")
        await gate.wait()
        return len(loads)

    waiters = [asyncio.create_task(cache.fetch("k", load)) for _ in range(4)]
    other = asyncio.create_task(cache.fetch("other", load))
    while len(loads) < 2:
        await asyncio.sleep(0)
    gate.set()
    assert await asyncio.gather(*waiters) == [2, 2, 2, 2]  # one load for "k", one for "other"
    assert await other == 2
    assert len(loads) == 2


async def test_a_failed_shared_load_fails_every_waiter_and_is_not_kept(clock: Clock) -> None:
    cache: TTLCache[str, int] = TTLCache(ttl=60, clock=clock)
    gate = asyncio.Event()

    async def broken() -> int:
        await gate.wait()
        raise OSError("database gone")

    waiters = [asyncio.create_task(cache.fetch("k", broken)) for _ in range(3)]
    await asyncio.sleep(0)
    gate.set()
    results = await asyncio.gather(*waiters, return_exceptions=True)
    assert [type(r) for r in results] == [OSError] * 3
    assert await cache.fetch("k", lambda: asyncio.sleep(0, result=7)) == 7


async def test_one_waiter_giving_up_leaves_the_shared_load_to_the_others(clock: Clock) -> None:
    cache: TTLCache[str, str] = TTLCache(ttl=60, clock=clock)
    gate = asyncio.Event()

    async def load() -> str:
        await gate.wait()
        return "v"

    impatient = asyncio.create_task(cache.fetch("k", load))
    patient = asyncio.create_task(cache.fetch("k", load))
    await asyncio.sleep(0)
    impatient.cancel()
    gate.set()
    assert await patient == "v"
    assert impatient.cancelled()
    assert await cache.fetch("k", lambda: asyncio.sleep(0, result="reloaded")) == "v"  # kept


async def test_a_fetch_after_forget_does_not_join_the_stale_load(clock: Clock) -> None:
    cache: TTLCache[str, str] = TTLCache(ttl=60, clock=clock)
    gate = asyncio.Event()

    async def stale() -> str:
        await gate.wait()
        return "old"

    slow = asyncio.create_task(cache.fetch("k", stale))
    await asyncio.sleep(0)
    cache.forget("k")
    assert await cache.fetch("k", lambda: asyncio.sleep(0, result="new")) == "new"
    gate.set()
    assert await slow == "old"
    assert await cache.fetch("k", lambda: asyncio.sleep(0, result="newer")) == "new"


def test_a_cache_refuses_nonsense_bounds() -> None:
    with pytest.raises(ValueError, match="ttl=0"):
        TTLCache(ttl=0)


# --- /settings defaults --------------------------------------------------------------------------


async def test_default_flags_are_cached_then_forgotten_on_save(engine: Engine, clock) -> None:
    community = CommunityStore(engine)
    defaults = DefaultFlags(community, clock=clock)
    assert await defaults.get(ALICE) == ""
    community.set_default_flags(ALICE, "-ar 9:16")  # another process saves
    assert await defaults.get(ALICE) == ""  # a hit: still the cached answer
    defaults.forget(ALICE)  # this process saved
    assert await defaults.get(ALICE) == "-ar 9:16"


async def test_another_process_change_to_defaults_shows_within_the_ttl(engine, clock) -> None:
    community = CommunityStore(engine)
    defaults = DefaultFlags(community, ttl=60, clock=clock)
    community.set_default_flags(ALICE, "-ar 9:16")
    assert await defaults.get(ALICE) == "-ar 9:16"
    community.set_default_flags(ALICE, "")
    clock.advance(59.9)
    assert await defaults.get(ALICE) == "-ar 9:16"
    clock.advance(0.1)
    assert await defaults.get(ALICE) == ""


# --- bans ----------------------------------------------------------------------------------------


def _bans(engine: Engine, clock: Clock, ttl: float = 30) -> Bans:
    return Bans(ModerationStore(engine), ttl=ttl, clock=clock, now=clock.now)


async def test_a_ban_given_here_counts_at_once_and_so_does_its_lifting(engine, clock) -> None:
    moderation = ModerationStore(engine)
    bans = _bans(engine, clock)
    assert await bans.active(ALICE, GUILD) is None
    assert await bans.active(ALICE, None) is None  # from DMs
    moderation.ban(ALICE, GUILD, created_by="discord:9", reason="spam")
    assert await bans.active(ALICE, GUILD) is None  # cached "not banned": a hit
    bans.forget(ALICE, GUILD)  # /mod ban in this process
    assert (await bans.active(ALICE, GUILD)).reason == "spam"
    assert (await bans.active(ALICE, None)).reason == "spam"  # DMs: any guild's ban
    assert await bans.active(ALICE, OTHER_GUILD) is None
    moderation.unban(ALICE, GUILD)
    bans.forget(ALICE, GUILD)  # /mod unban in this process
    assert await bans.active(ALICE, GUILD) is None
    assert await bans.active(ALICE, None) is None


async def test_a_ban_from_another_process_is_missed_for_at_most_the_ttl(engine, clock) -> None:
    bans = _bans(engine, clock, ttl=30)
    assert await bans.active(ALICE, GUILD) is None
    ModerationStore(engine).ban(ALICE, GUILD, created_by="discord:9")
    clock.advance(29.9)
    assert await bans.active(ALICE, GUILD) is None
    clock.advance(0.1)
    assert await bans.active(ALICE, GUILD) is not None


async def test_a_cached_ban_that_runs_out_is_no_ban(engine, clock) -> None:
    bans = _bans(engine, clock, ttl=30)
    ModerationStore(engine).ban(
        ALICE, GUILD, created_by="discord:9", until=clock.now() + timedelta(seconds=10)
    )
    assert await bans.active(ALICE, GUILD) is not None
    assert await bans.active(ALICE, None) is not None
    clock.advance(10)  # still within the TTL: the cached ban is checked against the time
    assert await bans.active(ALICE, GUILD) is None
    assert await bans.active(ALICE, None) is None


async def test_a_burst_of_members_not_seen_yet_is_read_in_few_queries(engine, clock) -> None:
    moderation, community = ModerationStore(engine), CommunityStore(engine)
    moderation.ban("discord:7", GUILD, created_by="discord:9", reason="spam")
    community.set_default_flags("discord:8", "-ar 9:16")
    queries: list[int] = []
    read_bans, read_flags = moderation.active_bans, community.default_flags_of
    moderation.active_bans = lambda asks, **kw: queries.append(len(asks)) or read_bans(asks, **kw)
    community.default_flags_of = lambda ids: queries.append(len(ids)) or read_flags(ids)
    bans = Bans(moderation, clock=clock, now=clock.now)
    defaults = DefaultFlags(community, clock=clock)
    members = [f"discord:{i}" for i in range(100)]

    banned = await asyncio.gather(*(bans.active(m, GUILD) for m in members))
    flags = await asyncio.gather(*(defaults.get(m) for m in members))
    assert [m for m, ban in zip(members, banned, strict=True) if ban] == ["discord:7"]
    assert [m for m, saved in zip(members, flags, strict=True) if saved] == ["discord:8"]
    assert sum(queries) == 200 and len(queries) <= 6  # a lone first read, then the rest together
