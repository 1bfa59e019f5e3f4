"""DMs for members from processes that can't reach Discord (`jobs.member_notices`): the REST
API telling a member their webhook endpoint was turned off.

Read through a consumer group and acknowledged once sent, so several bot processes send each
notice once. The DM carries a nonce made from the stream entry's id with `enforce_nonce`, so a
bot killed between sending and acknowledging sends nothing new when the entry is read again:
Discord returns the message it already made. A notice that can't be delivered (DMs closed, not
a Discord member) is logged and acknowledged; Discord's 5xx and 429 leave it for a retry.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import discord
from redis.asyncio import Redis
from redis.exceptions import ResponseError

from core.text import without_bidi
from jobs.keys import MEMBER_NOTICES_STREAM

log = logging.getLogger(__name__)

GROUP = "reelbot-bot"
CLAIM_IDLE_MS = 60_000  # another bot's unacknowledged notice is taken over after this long
RETRY_DELAY_S = 5.0
DISCORD_PREFIX = "discord:"


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value or "")


class MemberNotices:
    """The loop that DMs each notice once (`run`, started with the bot's other loops)."""

    def __init__(self, client: discord.Client, redis: Redis, *, consumer: str = "bot-1") -> None:
        self.client = client
        self.redis = redis
        self.consumer = consumer

    async def run(self) -> None:
        """Send notices until cancelled: this consumer's pending ones first (from before a
        restart), then abandoned and new ones. A failure is logged and retried."""
        group_ready = False
        own_pending = True
        while True:
            try:
                if not group_ready:
                    await self._ensure_group()
                    group_ready = True
                if own_pending:
                    await self._read("0")
                    own_pending = False
                await self._claim_abandoned()
                await self._read(">", block_ms=2000)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if isinstance(exc, ResponseError) and "NOGROUP" in str(exc):
                    group_ready = False
                own_pending = True
                log.warning("member notices: %s; retrying in %.0f s", exc, RETRY_DELAY_S)
                await asyncio.sleep(RETRY_DELAY_S)

    async def _ensure_group(self) -> None:
        try:
            await self.redis.xgroup_create(MEMBER_NOTICES_STREAM, GROUP, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def _read(self, start: str, block_ms: int | None = None) -> None:
        replies = await self.redis.xreadgroup(
            GROUP, self.consumer, {MEMBER_NOTICES_STREAM: start}, count=20, block=block_ms
        )
        for _stream, entries in replies or []:
            for entry_id, fields in entries:
                await self._send(entry_id, fields)

    async def _claim_abandoned(self) -> None:
        reply = await self.redis.xautoclaim(
            MEMBER_NOTICES_STREAM, GROUP, self.consumer, min_idle_time=CLAIM_IDLE_MS, count=20
        )
        for entry_id, fields in reply[1]:
            await self._send(entry_id, fields)

    async def _send(self, entry_id: Any, fields: dict[Any, Any] | None) -> None:
        fields = {_text(k): v for k, v in (fields or {}).items()}
        member, text = _text(fields.get("m")), without_bidi(_text(fields.get("t")))
        user = member.removeprefix(DISCORD_PREFIX)
        if member.startswith(DISCORD_PREFIX) and user.isdigit() and text:
            try:
                channel = await self.client.create_dm(discord.Object(int(user)))
                await channel.send(
                    text,
                    nonce=_text(entry_id)[:25],
                    allowed_mentions=discord.AllowedMentions.none(),
                )
            except discord.HTTPException as exc:
                if exc.status >= 500 or exc.status == 429:
                    raise  # left pending: read again after RETRY_DELAY_S
                log.warning("member notice %s not delivered to %s: %s", _text(entry_id), user, exc)
        else:
            log.warning("member notice %s is for %r, not a Discord member", _text(entry_id), member)
        await self.redis.xack(MEMBER_NOTICES_STREAM, GROUP, entry_id)
