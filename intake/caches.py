"""Short-lived in-process answers for what every `/create` asks the gallery database.

Every request needs the member's `/settings` defaults and whether they are banned; both change
rarely, and a database read in a thread costs more CPU than the rest of the request. So each
bot process keeps the answers for a few seconds:

- `DefaultFlags`: a member's default flags, for `DEFAULTS_TTL_S` (60 s).
- `Bans`: whether a member is banned in a guild, for `BANS_TTL_S` (30 s).

A change made through this process (`/settings`, `/mod ban`, `/mod unban`) forgets the cached
answer at once. A change made by another bot process (or straight in the database) is seen here
once the cached answer expires, so at most one TTL late. Both caches are bounded (`maxsize`,
oldest entry evicted first) and hold only what the database said, misses included. Misses
that arrive together (a burst of members not seen yet) are read in one query (`Batcher`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Hashable, Sequence
from datetime import datetime
from typing import Generic, TypeVar

from gallery.community import CommunityStore
from gallery.models import Ban, utcnow
from gallery.moderation import ModerationStore
from jobs.batching import Batcher

__all__ = ["BANS_TTL_S", "DEFAULTS_TTL_S", "Bans", "DefaultFlags", "TTLCache"]

DEFAULTS_TTL_S = 60.0
BANS_TTL_S = 30.0
MAX_ENTRIES = 10_000

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class TTLCache(Generic[K, V]):
    """A bounded mapping whose entries expire `ttl` seconds (of `clock`) after they are loaded.

    `fetch` loads a missing or expired key; `forget` drops keys. A load that was already running
    when `forget` was called is not cached (it may have read the old value), so a forgotten
    answer never comes back from a load that raced the change. An entry's `ttl` counts from the
    moment its load began, so what changed in the database is seen within `ttl`, however long
    the read took.

    Concurrent fetches of one key share a single load: in a burst a member's four requests
    arrive together, and each would otherwise read the database for the same answer.
    """

    def __init__(
        self, *, ttl: float, maxsize: int = MAX_ENTRIES, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if ttl <= 0 or maxsize < 1:
            raise ValueError(f"ttl={ttl!r}, maxsize={maxsize!r}: both must be positive")
        self.ttl = ttl
        self.maxsize = maxsize
        self.clock = clock
        self._entries: dict[K, tuple[float, V]] = {}
        self._forgets = 0  # bumped by `forget`; a load started before a bump is not kept
        self._loading: dict[K, asyncio.Future[V]] = {}  # one load per key at a time

    def __len__(self) -> int:
        return len(self._entries)

    async def fetch(self, key: K, load: Callable[[], Awaitable[V]]) -> V:
        entry = self._entries.get(key)
        if entry is not None:
            if entry[0] > self.clock():
                return entry[1]
            del self._entries[key]
        pending = self._loading.get(key)
        if pending is None:
            pending = asyncio.ensure_future(self._load(key, load, self._forgets))
            # Read an error nobody awaited (every waiter cancelled), so asyncio never logs it.
            pending.add_done_callback(lambda f: f.cancelled() or f.exception())
            self._loading[key] = pending
        # Shielded: one waiter giving up must not cancel the load the others wait for.
        return await asyncio.shield(pending)

    async def _load(self, key: K, load: Callable[[], Awaitable[V]], forgets: int) -> V:
        began = self.clock()
        try:
            value = await load()
        finally:
            if self._loading.get(key) is asyncio.current_task():
                del self._loading[key]
        if forgets == self._forgets:
            self._put(key, value, began + self.ttl)
        return value

    def forget(self, *keys: K) -> None:
        for key in keys:
            self._entries.pop(key, None)
            self._loading.pop(key, None)  # a fetch from now on loads afresh
        self._forgets += 1

    def _put(self, key: K, value: V, expires: float) -> None:
        self._entries.pop(key, None)
        while len(self._entries) >= self.maxsize:  # the oldest loaded goes first
            del self._entries[next(iter(self._entries))]
        self._entries[key] = (expires, value)


class DefaultFlags:
    """A member's saved `/settings` flags ("" for none), as `CommunityStore.default_flags`.

    Cached per member for `ttl` seconds; `forget` after this process saves or clears them.
    Another bot process's change shows here within `ttl`.
    """

    def __init__(
        self,
        store: CommunityStore,
        *,
        ttl: float = DEFAULTS_TTL_S,
        maxsize: int = MAX_ENTRIES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.cache: TTLCache[str, str] = TTLCache(ttl=ttl, maxsize=maxsize, clock=clock)
        self._reads: Batcher[str, str] = Batcher(self._read)  # a burst's members in one query

    async def get(self, member_id: str) -> str:
        return await self.cache.fetch(member_id, lambda: self._reads(member_id))

    async def _read(self, member_ids: Sequence[str]) -> list[str]:
        return await asyncio.to_thread(self.store.default_flags_of, member_ids)

    def forget(self, member_id: str) -> None:
        self.cache.forget(member_id)


class Bans:
    """The ban that stops a member now, as `ModerationStore.active_ban` (None: not banned).

    Cached per (member, guild) for `ttl` seconds, so a ban given by another bot process (or a
    moderator tool writing the database) is missed for at most `ttl` seconds; one given or lifted
    through this process (`/mod ban`, `/mod unban`: call `forget`) counts at once. A cached ban
    whose `until` has passed is no ban: expiry is checked against `now` on every hit.
    """

    def __init__(
        self,
        store: ModerationStore,
        *,
        ttl: float = BANS_TTL_S,
        maxsize: int = MAX_ENTRIES,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = utcnow,
    ) -> None:
        self.store = store
        self.now = now
        self.cache: TTLCache[tuple[str, int | None], Ban | None] = TTLCache(
            ttl=ttl, maxsize=maxsize, clock=clock
        )
        self._reads: Batcher[tuple[str, int | None], Ban | None] = Batcher(self._read)

    async def active(self, member_id: str, guild_id: int | None) -> Ban | None:
        """The ban in that guild; for a request from DMs (no guild), the longest in any guild."""
        ask = (member_id, guild_id)
        ban = await self.cache.fetch(ask, lambda: self._reads(ask))
        if ban is not None and ban.until is not None and ban.until <= self.now():
            return None
        return ban

    async def _read(self, asks: Sequence[tuple[str, int | None]]) -> list[Ban | None]:
        return await asyncio.to_thread(self.store.active_bans, asks, now=self.now())

    def forget(self, member_id: str, guild_id: int) -> None:
        """After a ban or unban in `guild_id`: that guild's answer and the DMs' one change."""
        self.cache.forget((member_id, guild_id), (member_id, None))
