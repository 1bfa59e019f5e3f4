"""Requests the REST API held for a moderator (`jobs.review_requests`), posted in the review
channel with Approve / Reject exactly as `bot.moderation.gate.hold` posts Discord's, "via the
REST API" instead of a channel.

Read through a consumer group and acknowledged once posted, so several bot processes post each
request once; the post carries a nonce made from the stream entry's id, so a bot killed between
posting and acknowledging makes no second message when the entry is read again (as
`bot.delivery.member_notices`). With no review channel nobody could approve it, so the request
fails with the policy's reason, as `gate.hold` refuses a Discord one; the API reads it failed.
A request a moderator (or anything else) already settled is acknowledged and left alone.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

import aiohttp
import discord
from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from bot.moderation.buttons import post_review
from bot.moderation.decisions import user_id_of
from bot.moderation.gate import held_text
from core.spec import RenderSpec
from gallery.models import GenerationStatus, Moderation
from jobs.group_reader import GroupReader
from jobs.keys import REVIEW_REQUESTS_STREAM
from jobs.review_requests import ReviewRequest

if TYPE_CHECKING:
    from bot.app import ReelBot

log = logging.getLogger(__name__)

GROUP = "reelbot-bot"
WHERE = "via the REST API"
# Discord's 5xx and 429 (re-raised by _handle), a dropped connection, the database (any driver
# error, or no pooled connection in time) or Redis away: tried again later. Anything else (a
# malformed request) is logged and given up.
TRANSIENT = (
    discord.HTTPException,
    aiohttp.ClientError,
    OSError,
    DBAPIError,
    PoolTimeout,
    RedisError,
)


class ApiReviews:
    """The loop that posts each held API request once (`run`, started with the bot's loops)."""

    def __init__(self, bot: ReelBot, redis: Redis, *, consumer: str = "bot-1") -> None:
        self.bot = bot
        self.reader = GroupReader(
            redis,
            REVIEW_REQUESTS_STREAM,
            GROUP,
            self._post,
            consumer=consumer,
            what="API review requests",
            transient=TRANSIENT,
        )

    async def run(self) -> None:
        """Post requests until cancelled (`jobs.group_reader`: pending, abandoned, then new)."""
        await self.reader.run()

    async def _post(self, entry_id: str, fields: dict[str, str]) -> None:
        await self._handle(ReviewRequest.from_fields(fields), entry_id)

    async def _handle(self, request: ReviewRequest, entry_id: str) -> None:
        bot, gid = self.bot, request.generation_id
        row = await asyncio.to_thread(bot.store.get, gid) if gid else None
        user_id = user_id_of(row.owner_id) if row is not None else None
        if row is None or user_id is None:
            log.warning("review request %s names no held API request", entry_id)
            return
        if row.moderation != Moderation.HELD or row.status != GenerationStatus.QUEUED:
            return  # decided already (a request read again after its post)
        if bot.review_config.channel_id is None:
            error = f"I can't make this clip: {request.reason}"
            await asyncio.to_thread(bot.store.mark_failed, gid, error=error)
            log.info("no review channel: held API request failed", extra={"generation_id": gid})
            return
        text = held_text(
            bot,
            RenderSpec.model_validate(row.spec),
            user_id,
            WHERE,
            rule=request.rule,
            category=request.category,
            reason=request.reason,
            matched=request.matched,
            field=request.field,
        )
        try:
            await post_review(bot, text, ("approve", "reject"), gid, nonce=entry_id[:25])
        except discord.HTTPException as exc:
            if exc.status >= 500 or exc.status == 429:
                raise  # left pending: read again after the reader's retry delay
            await asyncio.to_thread(bot.store.mark_failed, gid, error="review not posted")
            log.warning("review of %s not posted: %s", gid, exc, extra={"generation_id": gid})
