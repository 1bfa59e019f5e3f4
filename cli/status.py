"""`reelbot status`: what the workers and the queues are doing, read from Redis alone.

Workers come from their heartbeat keys (`reelbot:worker:<id>`, present while the lease lives)
and from the owners hash: a worker that still owns a job but no longer beats died while
rendering it, and shows as not alive until a live worker reaps the job. Queue depths are the
arq queues' sizes and the fair scheduler's member wait lists; the oldest waiting request is the
oldest head of those lists (each list is first in, first out), dated by its "queued" event.
The result stream's length shows whether delivery keeps up: finished clips stay in it until the
bot has posted them, so a length that only grows means no bot is reading it. The fleet lists
each model family live now (its workers and the modes they render), and those seen lately;
queues and waiting lists are per lane, a tier within a family ("fast@ltx").
"""

from __future__ import annotations

import json
import time
from typing import Any

from redis.asyncio import Redis

from core.fairshare import TIERS, lane, queue_of, route, split_lane
from core.spec import DEFAULT_QUEUE
from jobs.admission import Admission
from jobs.events import read_event
from jobs.fleet import read_fleet
from jobs.keys import NOT_READY_PREFIX, OWNERS_KEY, RESULT_STREAM, events_key, heartbeat_key
from jobs.results import KEPT_WITHOUT_READER, results_backlog

WORKER_PREFIX = heartbeat_key("")


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _age(now: float, then: object) -> float | None:
    """Seconds since `then` (None when unknown: a missing or zero timestamp)."""
    if not isinstance(then, int | float) or then <= 0:
        return None
    return round(max(0.0, now - then), 3)


async def _workers(redis: Redis, now: float) -> list[dict[str, Any]]:
    keys = [k async for k in redis.scan_iter(match=heartbeat_key("*"), count=1000)]
    beats = await redis.mget(keys) if keys else []
    workers: dict[str, dict[str, Any]] = {}
    for key, raw in zip(keys, beats, strict=True):
        if raw is None:  # expired between the scan and the read
            continue
        try:
            state = json.loads(raw)
            state = state if isinstance(state, dict) else {}
        except ValueError:
            state = {}
        worker_id = _text(key).removeprefix(WORKER_PREFIX)
        workers[worker_id] = {
            "id": worker_id,
            "alive": True,
            "job": state.get("job"),
            "queue": str(state.get("queue") or DEFAULT_QUEUE),
            "family": state.get("family"),
            "heartbeat_age_s": _age(now, state.get("at")),
            "uptime_s": _age(now, state.get("started")),
        }
    for raw_job, raw_owner in (await redis.hgetall(OWNERS_KEY)).items():
        owner = _text(raw_owner)
        if owner not in workers:  # owns a job, stopped beating: died while rendering it
            workers[owner] = {
                "id": owner,
                "alive": False,
                "job": _text(raw_job),
                "queue": None,
                "heartbeat_age_s": None,
                "uptime_s": None,
            }
    workers.update(await _not_ready(redis, now))
    return sorted(workers.values(), key=lambda w: (not w["alive"], w["id"]))


async def _not_ready(redis: Redis, now: float) -> dict[str, dict[str, Any]]:
    """Workers still loading their model, or whose load failed (`worker.readiness`)."""
    keys = [k async for k in redis.scan_iter(match=f"{NOT_READY_PREFIX}*", count=1000)]
    found: dict[str, dict[str, Any]] = {}
    for key, raw in zip(keys, await redis.mget(keys) if keys else [], strict=True):
        try:
            state = json.loads(raw) if raw is not None else None
        except ValueError:
            state = None
        if not isinstance(state, dict):
            continue
        worker_id = _text(key).removeprefix(NOT_READY_PREFIX)
        found[worker_id] = {
            "id": worker_id,
            "alive": False,
            "ready": False,
            "state": str(state.get("state") or "loading"),
            "reason": state.get("reason"),
            "job": None,
            "queue": str(state.get("queue") or DEFAULT_QUEUE),
            "heartbeat_age_s": _age(now, state.get("at")),
            "uptime_s": _age(now, state.get("started")),
        }
    return found


async def _queued_at(redis: Redis, generation_id: str) -> float | None:
    """When the job was queued: its first event's time (None when its events expired)."""
    entries = await redis.xrange(events_key(generation_id), count=1)
    if not entries:
        return None
    entry_id, fields = entries[0]
    try:
        at = read_event(fields).at
    except ValueError:
        at = 0.0
    return at or int(_text(entry_id).split("-")[0]) / 1000


async def read_status(redis: Redis, *, now: float | None = None) -> dict[str, Any]:
    """Everything `reelbot status` shows, as one JSON-ready dict."""
    now = time.time() if now is None else now
    workers = await _workers(redis, now)
    per_queue: dict[str, int] = {}
    for worker in workers:
        if worker["alive"]:
            per_queue[worker["queue"]] = per_queue.get(worker["queue"], 0) + 1
    snap = await Admission(redis).snapshot()
    fleet = await read_fleet(redis, now=now)
    families = sorted(
        {split_lane(q)[1] for q in per_queue} - {""} | set(snap.queues) | set(fleet.live)
    )
    queues: dict[str, dict[str, Any]] = {}
    tiers: dict[str, dict[str, Any]] = {}
    oldest: dict[str, Any] | None = None
    undated: dict[str, Any] | None = None  # a head whose events expired
    for family in families:
        routes = route(per_queue, family)
        for tier in TIERS:
            name, key = lane(tier, family), queue_of(tier, family)
            queues[name] = {
                "key": key,
                "depth": snap.depth.get(key, 0),
                "workers": per_queue.get(key, 0),
            }
            guilds = snap.queues.get(family, {}).get(tier, {})
            lists = [(m, ids) for members in guilds.values() for m, ids in members.items() if ids]
            tiers[name] = {
                "waiting_jobs": sum(len(ids) for _, ids in lists),
                "members_waiting": len({m for m, _ in lists}),
                "guilds_waiting": len(guilds),
                "routed_to": routes[tier],
            }
            for _, ids in lists:
                age = _age(now, await _queued_at(redis, ids[0]))
                if age is None:
                    undated = undated or {"generation_id": ids[0], "age_s": None, "tier": name}
                elif oldest is None or age > oldest["age_s"]:
                    oldest = {"generation_id": ids[0], "age_s": age, "tier": name}
    offered = fleet.offered()
    fleet_view = {
        family: {
            "workers": fleet.live[family].workers if family in fleet.live else 0,
            "modes": list(modes),
            "live": family in fleet.live,
        }
        for family, modes in sorted(offered.items())
    }
    backlog = await results_backlog(redis)
    return {
        "at": now,
        "workers": workers,
        "fleet": fleet_view,
        "queues": queues,
        "tiers": tiers,
        "oldest_waiting": oldest or undated,
        "results": {
            "key": RESULT_STREAM,
            "length": backlog.length,
            "pending": backlog.pending,
            "unread": backlog.unread,
            "readers": backlog.groups,
        },
    }


def duration(seconds: float | None) -> str:
    """A short human duration: 0.4s, 12s, 3m05s, 2h03m, 1d04h; '-' when unknown."""
    if seconds is None:
        return "-"
    if seconds < 10:
        return f"{seconds:.1f}s"
    s = int(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 86400}d{s % 86400 // 3600:02d}h"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    return [
        "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
        for r in [header, *rows]
    ]


def _results_line(results: dict[str, Any]) -> str:
    """One line on the result stream: its length, and what delivery has yet to do."""
    line = f"Results stream {results['key']}: {results['length']} entries"
    if not results["readers"]:
        return line + (
            " (no bot has read it yet: clips for Discord are posted once `reelbot bot` runs;"
            f" up to {KEPT_WITHOUT_READER} are kept until then)"
        )
    unread = "?" if results["unread"] is None else str(results["unread"])
    return line + f" ({unread} not yet read by the bot, {results['pending']} being posted)"


def _alive(worker: dict[str, Any]) -> str:
    if worker["alive"]:
        return "yes"
    if worker.get("state") == "loading":
        return "not ready (loading its model)"
    if worker.get("state") == "failed":
        return "NOT READY (its model failed to load; it exited)"
    return "NO (died while rendering)"


def fleet_lines(fleet: dict[str, Any]) -> list[str]:
    """Each model family live now or seen lately: its workers and the modes they render."""
    if not fleet:
        return ["Fleet: no worker has announced its model family yet"]
    rows = [
        [
            family,
            str(f["workers"]) if f["live"] else "0 (seen in the last 10 min)",
            ", ".join(f["modes"]) or "-",
        ]
        for family, f in fleet.items()
    ]
    return ["Fleet", *_table(["FAMILY", "WORKERS", "MODES"], rows)]


def render_status(status: dict[str, Any]) -> str:
    """The status as tables for a terminal."""
    workers = status["workers"]
    lines = [f"Workers ({sum(w['alive'] for w in workers)} alive)"]
    reasons = [f"  {w['id']}: {w['reason']}" for w in workers if w.get("reason")]
    if workers:
        rows = [
            [
                w["id"],
                _alive(w),
                w["job"] or "-",
                w.get("family") or "-",
                w["queue"] or "-",
                duration(w["heartbeat_age_s"]),
                duration(w["uptime_s"]),
            ]
            for w in workers
        ]
        lines += _table(["ID", "ALIVE", "JOB", "FAMILY", "QUEUE", "BEAT", "UPTIME"], rows)
        lines += reasons
    else:
        lines.append("(none: start `reelbot worker` or `reelbot up`)")
    lines += ["", *fleet_lines(status["fleet"]), "", "Queues"]
    rows = [
        [
            f"arq {tier}",
            q["key"],
            str(q["depth"]),
            "-",
            str(q["workers"]),
        ]
        for tier, q in status["queues"].items()
    ]
    rows += [
        [
            f"waiting {tier}",
            f"-> {t['routed_to']}",
            str(t["waiting_jobs"]),
            str(t["members_waiting"]),
            "-",
        ]
        for tier, t in status["tiers"].items()
    ]
    lines += _table(["QUEUE", "KEY", "JOBS", "MEMBERS", "WORKERS"], rows)
    oldest = status["oldest_waiting"]
    lines += ["", _results_line(status["results"])]
    if oldest is None:
        lines.append("Oldest waiting request: none")
    else:
        waited = "an unknown time" if oldest["age_s"] is None else duration(oldest["age_s"])
        lines.append(
            f"Oldest waiting request: {oldest['generation_id']} ({oldest['tier']}), "
            f"waiting {waited}"
        )
    return "\n".join(lines)
