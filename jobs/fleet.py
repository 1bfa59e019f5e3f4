"""The fleet: which model families have workers, and which modes each renders.

A fleet may run several families at once (ltx for /create, wan_vace for clip edits). Each
worker's beat announces its family and modes in its heartbeat, and in the roster hash
`FLEET_KEY` (family -> modes and the time of the latest beat). Front ends read both to send a
request to a family that can make it: the live workers, and the families seen in the last
`RECENT` — a family whose only worker restarts for a few minutes must not have its modes
refused in the meantime (its jobs wait for it as they always did). Beside its modes a worker
announces the extras its own models make (`core.fleet.EXTRAS`); one that announces none counts
as making them all, so a fleet part-way through an upgrade refuses nothing it used to make.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from redis.asyncio import Redis

from core.fairshare import lane
from core.fleet import EXTRAS
from jobs.keys import FLEET_KEY, heartbeat_key
from jobs.replies import reply

__all__ = ["RECENT", "FamilyWorkers", "Fleet", "read_fleet", "worker_queue"]

RECENT = timedelta(minutes=10)


@dataclass(frozen=True)
class FamilyWorkers:
    """One family's live workers and the modes they announced."""

    workers: int
    modes: tuple[str, ...]


@dataclass(frozen=True)
class Fleet:
    """What the workers announced: the families live now, and those seen within `RECENT`."""

    live: Mapping[str, FamilyWorkers] = field(default_factory=dict)
    recent: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # the limits each family's workers announced (core.capabilities.ANNOUNCED_LIMITS), if any
    limits: Mapping[str, Mapping[str, object]] = field(default_factory=dict)
    # the EXTRAS each family makes: any of its live workers', else its latest beat's
    extras: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def offered(self) -> dict[str, tuple[str, ...]]:
        """The modes of every family live now or seen lately (a live worker's word wins)."""
        return {**self.recent, **{f: w.modes for f, w in self.live.items()}}

    def workers(self) -> dict[str, int]:
        """Live workers per family."""
        return {f: w.workers for f, w in self.live.items()}


def worker_queue(tier_queue: str, family: str) -> str:
    """The arq queue a worker of `family` reads, given its tier's queue (REELBOT_QUEUE_NAME):
    the tier's queue with "@" and the family after it (`core.fairshare.queue_of`); a name that
    has its family already is kept as it is."""
    return tier_queue if "@" in tier_queue else lane(tier_queue, family)


def _json(raw: bytes | None) -> dict[str, Any]:
    try:
        value = json.loads(raw) if raw else None
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _modes(value: Any) -> tuple[str, ...]:
    return tuple(str(m) for m in value) if isinstance(value, list) else ()


def _extras(state: Mapping[str, Any]) -> tuple[str, ...]:
    """What a beat says its worker makes beside its modes; all EXTRAS when it says nothing."""
    return _modes(state["extras"]) if "extras" in state else EXTRAS


async def read_fleet(redis: Redis, *, now: float | None = None) -> Fleet:
    """The fleet from the heartbeats (a scan of the keyspace) and the roster."""
    now = time.time() if now is None else now
    keys = [k async for k in redis.scan_iter(match=heartbeat_key("*"), count=1000)]
    live: dict[str, FamilyWorkers] = {}
    limits: dict[str, Mapping[str, object]] = {}
    live_extras: dict[str, tuple[str, ...]] = {}
    for raw in await reply(redis.mget(keys)) if keys else []:
        state = _json(raw)
        family = state.get("family")
        if not isinstance(family, str):  # expired meanwhile, or a worker announcing none
            continue
        if isinstance(state.get("limits"), dict):
            limits.setdefault(family, state["limits"])
        known = live.get(family, FamilyWorkers(0, ()))
        modes = tuple(dict.fromkeys([*known.modes, *_modes(state.get("modes"))]))
        live[family] = FamilyWorkers(known.workers + 1, modes)
        live_extras[family] = tuple(dict.fromkeys([*live_extras.get(family, ()), *_extras(state)]))
    recent: dict[str, tuple[str, ...]] = {}
    extras: dict[str, tuple[str, ...]] = {}
    oldest = now - RECENT.total_seconds()
    for raw_family, raw_seen in (await reply(redis.hgetall(FLEET_KEY))).items():
        seen = _json(raw_seen)
        at = seen.get("at")
        if isinstance(at, int | float) and at >= oldest:
            recent[raw_family.decode()] = _modes(seen.get("modes"))
            extras[raw_family.decode()] = _extras(seen)
            if isinstance(seen.get("limits"), dict):
                limits.setdefault(raw_family.decode(), seen["limits"])
    return Fleet(
        live=dict(sorted(live.items())),
        recent=dict(sorted(recent.items())),
        limits=limits,
        extras=extras | live_extras,  # a live worker's word wins, as with modes
    )
