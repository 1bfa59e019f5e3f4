"""Telling a member something when there is no interaction to answer privately (a 🔁 reaction):
in a DM, never as a public reply each time.

A reaction can be taken back and added again as fast as a finger moves. A public reply to each
would ping the member every time and spend the channel's message budget (about 5 posts per 5 s)
that finished clips need. So:

- a member is told about one topic (say, "a 🔁 was refused: over a cap") at most once per
  `NOTICE_WINDOW_S`, whatever the number of reactions, and in a DM;
- where their DMs are closed (Discord error 50007), the channel gets one line instead, with no
  ping, at most once per member per window whatever the topic.

The windows are Redis keys (`jobs.keys.told_key`) set only if absent, so every bot process and a
restarted one keep to them.
"""

from __future__ import annotations

import logging

import discord
from redis.asyncio import Redis

from core.text import without_bidi
from jobs.keys import told_key

log = logging.getLogger(__name__)

NOTICE_WINDOW_S = 600  # ten minutes: long enough to outlast a flood, short enough to hear again
CLOSED_DMS = 50007  # "Cannot send messages to this user"
PUBLIC = "public"  # the topic of the one fallback line in the channel
QUIET = discord.AllowedMentions.none()


async def first_within(redis: Redis, key: str, window_s: int) -> bool:
    """True for the first caller in `window_s` seconds (SET NX EX: one atomic round trip)."""
    return bool(await redis.set(key, b"1", nx=True, ex=window_s))


async def tell_member(
    client: discord.Client,
    redis: Redis,
    *,
    user_id: int,
    topic: str,
    text: str,
    fallback: discord.PartialMessage,
) -> str | None:
    """Tell `user_id` `text` in a DM, once per topic and window; "dm", "public" (a reply to
    `fallback` in its channel, their DMs being closed) or None (already told, or undeliverable)."""
    if not await first_within(redis, told_key(user_id, topic), NOTICE_WINDOW_S):
        return None
    text = without_bidi(text)
    try:
        channel = await client.create_dm(discord.Object(user_id))
        await channel.send(text, allowed_mentions=QUIET)
        return "dm"
    except discord.HTTPException as exc:
        if not (isinstance(exc, discord.Forbidden) and exc.code == CLOSED_DMS):
            log.warning("could not DM %s about %s: %s", user_id, topic, exc)
            return None
    if not await first_within(redis, told_key(user_id, PUBLIC), NOTICE_WINDOW_S):
        return None
    try:
        await fallback.channel.send(
            f"<@{user_id}> {text}\n-# Your DMs are closed to me, so I'm saying this here; I'll "
            f"keep quiet about it for {NOTICE_WINDOW_S // 60} minutes.",
            reference=fallback.to_reference(fail_if_not_exists=False),
            allowed_mentions=QUIET,
        )
    except discord.HTTPException as exc:
        log.warning("could not tell %s about %s in the channel: %s", user_id, topic, exc)
        return None
    return "public"
