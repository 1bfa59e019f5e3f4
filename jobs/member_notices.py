"""Telling a member something from a process that can't reach Discord (the REST API turning
off their webhook endpoint): a short Redis stream that the bot reads and DMs from.

The stream is capped (`MAXLEN`, trimmed roughly): notices are rare, and an install that runs no
bot must not grow it forever. The bot reads it in a consumer group and acknowledges each entry
once the DM is sent (`bot.delivery.member_notices`), so a notice is sent once even when several
bot processes read.
"""

from __future__ import annotations

from redis.asyncio import Redis

from jobs.keys import MEMBER_NOTICES_STREAM

__all__ = ["MAX_NOTICES", "MAX_TEXT", "notify_member"]

MAX_NOTICES = 10_000
MAX_TEXT = 1900  # a Discord message is at most 2,000 characters


async def notify_member(redis: Redis, member_id: str, text: str) -> str:
    """Queue `text` for `member_id` ("discord:123"); the stream entry's id."""
    entry = await redis.xadd(
        MEMBER_NOTICES_STREAM,
        {"m": member_id, "t": text[:MAX_TEXT]},
        maxlen=MAX_NOTICES,
        approximate=True,
    )
    return entry.decode() if isinstance(entry, bytes) else str(entry)
