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
from typing import TYPE_CHECKING, Any

import discord
from redis.asyncio import Redis
from redis.exceptions import ResponseError

from bot.moderation.buttons import post_review
from bot.moderation.decisions import user_id_of
from bot.moderation.gate import held_text
from core.spec import RenderSpec
from gallery.models import GenerationStatus, Moderation
from jobs.keys import REVIEW_REQUESTS_STREAM
from jobs.review_requests import ReviewRequest

if TYPE_CHECKING:
    from bot.app import ReelBot

log = logging.getLogger(__name__)

GROUP = "reelbot-bot"
CLAIM_IDLE_MS = 60_000  # another bot's unacknowledged request is taken over after this long
RETRY_DELAY_S = 5.0
WHERE = "via the REST API"


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value or "")


class ApiReviews:
    """The loop that posts each held API request once (`run`, started with the bot's loops)."""

    def __init__(self, bot: ReelBot, redis: Redis, *, consumer: str = "bot-1") -> None:
        self.bot = bot
        self.redis = redis
        self.consumer = consumer

    async def run(self) -> None:
        """Post requests until cancelled: this consumer's pending ones first (from before a
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
                log.warning("API review requests: %s; retrying in %.0f s", exc, RETRY_DELAY_S)
                await asyncio.sleep(RETRY_DELAY_S)

    async def _ensure_group(self) -> None:
        try:
            await self.redis.xgroup_create(REVIEW_REQUESTS_STREAM, GROUP, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def _read(self, start: str, block_ms: int | None = None) -> None:
        replies = await self.redis.xreadgroup(
            GROUP, self.consumer, {REVIEW_REQUESTS_STREAM: start}, count=20, block=block_ms
        )
        for _stream, entries in replies or []:
            for entry_id, fields in entries:
                await self._post(entry_id, fields)

    async def _claim_abandoned(self) -> None:
        reply = await self.redis.xautoclaim(
            REVIEW_REQUESTS_STREAM, GROUP, self.consumer, min_idle_time=CLAIM_IDLE_MS, count=20
        )
        for entry_id, fields in reply[1]:
            await self._post(entry_id, fields)

    async def _post(self, entry_id: Any, fields: dict[Any, Any] | None) -> None:
        request = ReviewRequest.from_fields({_text(k): _text(v) for k, v in (fields or {}).items()})
        await self._handle(request, _text(entry_id))
        await self.redis.xack(REVIEW_REQUESTS_STREAM, GROUP, entry_id)

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
                raise  # left pending: read again after RETRY_DELAY_S
            await asyncio.to_thread(bot.store.mark_failed, gid, error="review not posted")
            log.warning("review of %s not posted: %s", gid, exc, extra={"generation_id": gid})
