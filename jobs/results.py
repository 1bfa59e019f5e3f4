"""Hand finished clips to the delivery consumer exactly once, and keep the stream short.

A record stays in the stream until every consumer group has read and acknowledged it; then it
goes (`trim_delivered`, run after each acknowledgement and each append). While no group exists
yet (no bot has ever started on this Redis), records stay for the bot to read when it does, up
to `KEPT_WITHOUT_READER`: an install that runs no bot (the terminal only) must not grow forever.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

from core.spec import ResultRecord
from jobs.keys import (
    FLIGHT_PREFIX,
    RESULT_STREAM,
    cancel_key,
    result_sent_key,
    sched_job_key,
)
from jobs.replies import reply
from jobs.scripts import lua

__all__ = [
    "KEPT_WITHOUT_READER",
    "SENT_TTL_S",
    "Backlog",
    "acknowledge",
    "publish_result_once",
    "results_backlog",
    "trim_delivered",
]

SENT_TTL_S = 7 * 24 * 3600
KEPT_WITHOUT_READER = 10_000  # far more finished clips than any bot's first start waits for


async def publish_result_once(redis: Redis, record: ResultRecord) -> bool:
    """Append the record to the result stream unless it was already appended; True if appended.

    Marking it sent and appending it are one script (`publish_result.lua`): a worker killed
    between the two can neither lose the record nor, on retry, append it a second time. The
    same script takes the clip out of the scheduler (its record, its place in the member's
    in-flight set, a cancel request): it is finished, and nothing of it stays behind."""
    gid = record.generation_id
    publish = redis.register_script(lua("publish_result"))
    entry_id = await publish(
        keys=[result_sent_key(gid), RESULT_STREAM, sched_job_key(gid), cancel_key(gid)],
        args=[record.model_dump_json(), SENT_TTL_S, FLIGHT_PREFIX, gid],
    )
    await trim_delivered(redis)
    return entry_id is not None


async def acknowledge(redis: Redis, group: str, entry_id: Any) -> int:
    """XACK one delivered record, and trim what every group is done with; entries trimmed."""
    return await _trim(redis, group, entry_id)


async def trim_delivered(redis: Redis) -> int:
    """Drop the records every consumer group has read and acknowledged; entries trimmed."""
    return await _trim(redis, "", "")


async def _trim(redis: Redis, group: str, entry_id: Any) -> int:
    trim = redis.register_script(lua("trim_results"))
    return int(await trim(keys=[RESULT_STREAM], args=[group, entry_id, KEPT_WITHOUT_READER]))


@dataclass(frozen=True)
class Backlog:
    """The result stream: entries stored, read by a consumer and not yet acknowledged
    (pending), and not read yet by the slowest group (unread; None when Redis can't tell)."""

    length: int
    pending: int
    unread: int | None
    groups: int


async def results_backlog(redis: Redis) -> Backlog:
    """What `reelbot status` and the metrics show of the result stream."""
    length = int(await reply(redis.xlen(RESULT_STREAM)))
    if length == 0 and not await reply(redis.exists(RESULT_STREAM)):
        return Backlog(0, 0, 0, 0)
    groups = await reply(redis.xinfo_groups(RESULT_STREAM))
    pending = sum(int(g["pending"]) for g in groups)
    lags = [g.get("lag") for g in groups]
    unread = None if any(lag is None for lag in lags) else max(map(int, lags), default=length)
    return Backlog(length, pending, unread, len(groups))
