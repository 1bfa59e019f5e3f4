"""DMs for members from processes that can't reach Discord (`jobs.member_notices`): the REST
API telling a member their webhook endpoint was turned off.

Read through a consumer group and acknowledged once sent, so several bot processes send each
notice once. The DM carries a nonce made from the stream entry's id with `enforce_nonce`, so a
bot killed between sending and acknowledging sends nothing new when the entry is read again:
Discord returns the message it already made. A notice that can't be delivered (DMs closed, not
a Discord member) is logged and acknowledged; Discord's 5xx and 429 leave it for a retry.
"""

from __future__ import annotations

import logging

import aiohttp
import discord
from redis.asyncio import Redis

from core.text import without_bidi
from jobs.group_reader import GroupReader
from jobs.keys import MEMBER_NOTICES_STREAM

log = logging.getLogger(__name__)

GROUP = "reelbot-bot"
DISCORD_PREFIX = "discord:"
# Discord's 5xx and 429 (re-raised by _send) and a dropped connection: tried again later
TRANSIENT = (discord.HTTPException, aiohttp.ClientError, OSError)


class MemberNotices:
    """The loop that DMs each notice once (`run`, started with the bot's other loops)."""

    def __init__(self, client: discord.Client, redis: Redis, *, consumer: str = "bot-1") -> None:
        self.client = client
        self.reader = GroupReader(
            redis,
            MEMBER_NOTICES_STREAM,
            GROUP,
            self._send,
            consumer=consumer,
            what="member notices",
            transient=TRANSIENT,
        )

    async def run(self) -> None:
        """Send notices until cancelled (`jobs.group_reader`: pending, abandoned, then new)."""
        await self.reader.run()

    async def _send(self, entry_id: str, fields: dict[str, str]) -> None:
        member, text = fields.get("m", ""), without_bidi(fields.get("t", ""))
        user = member.removeprefix(DISCORD_PREFIX)
        if member.startswith(DISCORD_PREFIX) and user.isdigit() and text:
            try:
                channel = await self.client.create_dm(discord.Object(int(user)))
                await channel.send(
                    text, nonce=entry_id[:25], allowed_mentions=discord.AllowedMentions.none()
                )
            except discord.HTTPException as exc:
                if exc.status >= 500 or exc.status == 429:
                    raise  # left pending: read again after the reader's retry delay
                log.warning("member notice %s not delivered to %s: %s", entry_id, user, exc)
        else:
            log.warning("member notice %s is for %r, not a Discord member", entry_id, member)
