"""Per-generation progress events on a Redis stream, so late readers still see the history.

A stream lives a day after its last event while its clip is on its way, and `FINISHED_TTL_S`
after the event that ends it (done or failed): long enough for whoever follows it to read the
end (`reelbot create`, the bot's progress view, a bot restarting), short enough that a finished
clip leaves nothing behind in Redis within minutes, however many clips a day there are. Nobody
reads a finished clip's events later: the gallery row is its record.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

from redis.asyncio import Redis

from core.spec import ProgressEvent
from jobs.keys import events_key

EVENTS_TTL_S = 24 * 3600
FINISHED_TTL_S = 5 * 60
EVENTS_MAXLEN = 500
TERMINAL_KINDS = frozenset({"done", "failed"})


def stamped(event: ProgressEvent) -> ProgressEvent:
    """The event with its time set (now, unless it has one)."""
    return event if event.at else event.model_copy(update={"at": time.time()})


async def publish_event(redis: Redis, generation_id: str, event: ProgressEvent) -> None:
    """Append one event; the stream expires a day after its last event, or a few minutes after
    the one that ends the clip."""
    event = stamped(event)
    key = events_key(generation_id)
    ttl = FINISHED_TTL_S if event.kind in TERMINAL_KINDS else EVENTS_TTL_S
    async with redis.pipeline(transaction=True) as pipe:
        pipe.xadd(key, {"e": event.model_dump_json()}, maxlen=EVENTS_MAXLEN, approximate=True)
        pipe.expire(key, ttl)
        await pipe.execute()


def read_event(fields: dict[bytes | str, bytes | str]) -> ProgressEvent:
    """The event in one stream entry, as `publish_event` wrote it."""
    raw = fields.get(b"e") or fields.get("e")
    if raw is None:
        raise ValueError(f"not a progress event: {fields!r}")
    return ProgressEvent.model_validate_json(raw)


async def follow_events(
    redis: Redis, generation_id: str, *, block_ms: int = 1000, idle_timeout_s: float | None = None
) -> AsyncIterator[ProgressEvent]:
    """Yield the generation's events from the first, until a terminal one (done or failed).

    `idle_timeout_s` bounds how long to wait with no new event (None: forever).
    """
    key = events_key(generation_id)
    last_id = "0-0"
    last_seen = time.monotonic()
    while True:
        replies = await redis.xread({key: last_id}, block=block_ms, count=100)
        if not replies:
            if idle_timeout_s is not None and time.monotonic() - last_seen > idle_timeout_s:
                raise TimeoutError(f"no progress for {idle_timeout_s:.0f} s")
            continue
        last_seen = time.monotonic()
        for _stream, entries in replies:
            for entry_id, fields in entries:
                last_id = entry_id
                event = read_event(fields)
                yield event
                if event.kind in TERMINAL_KINDS:
                    return
