"""Remixing in the channel: the result buttons (bot.delivery.views) and reactions on any result
message.

Reactions work for any member on any clip the bot posted, no interaction needed:
- 🔁 queues the reactor's own clip with the same prompt and flags and a new seed, the parent
  recorded; the queued message replies to the result and the clip arrives by normal delivery.
  It is asked through the same intake as /create (caps, bans, policy). Taking the reaction back
  and adding it again within `REMIX_WINDOW_S` queues nothing more, and a refusal is told in a DM
  (`bot.notices`), never as a public reply per reaction;
- ❤️ likes the clip, and taking the reaction back unlikes it;
- ❌ deletes the clip when the owner or a moderator (Manage Messages in that channel) reacts;
  anyone else's ❌ is taken off again, so it never looks as if it counted;
- 🚩 reports the clip (`bot.moderation.gate.report_clip`): enough members' reports hide it for
  review.

Raw reaction events are used because the message is rarely in discord.py's cache (and the
message-content intent is not needed: the clip is found by message id in the gallery).
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

import discord
from discord.ext import commands

from bot.delivery.targets import DEFAULT_UPLOAD_LIMIT
from bot.delivery.views import ClipButton, delete_clip, may_delete
from bot.intake.requests import Asker, is_nsfw, role_ids, submit_request
from bot.moderation.gate import report_clip
from bot.notices import first_within, tell_member
from core.errors import ContentHeld, UserFacingError
from core.spec import RenderSpec
from gallery.models import Generation, GenerationStatus
from intake.followups import follow_up_spec
from jobs.keys import remixed_key

if TYPE_CHECKING:
    from bot.app import ReelBot

log = logging.getLogger(__name__)

REMIX, LIKE, DELETE = "🔁", "❤", "❌"  # ❤ without its variation selector (both spellings occur)
REPORT = "🚩"  # counted by bot.moderation.gate; taken off again so that reporters stay anonymous
FRESH_S = 10.0  # a message younger than this may not have its clip's id recorded yet
RECORDED_WITHIN_S = 1.0  # ample for delivery to record an id it just got back
# A member's 🔁 on one clip makes one remix per hour. The reaction stays on the message, so
# adding it again is the same ask, not a new one; an hour outlasts a remix's wait in line and its
# render, so toggling while it is on its way never queues a second. After that, 🔁 again is a
# fresh ask (still within the member's caps); the Reroll button asks for another at any time.
REMIX_WINDOW_S = 3600


def _age_s(message_id: int) -> float:
    return (discord.utils.utcnow() - discord.utils.snowflake_time(message_id)).total_seconds()


def reaction_kind(emoji: discord.PartialEmoji) -> str | None:
    """REMIX, LIKE or DELETE for the reactions that mean something; None for any other."""
    if emoji.id is not None or emoji.name is None:  # custom emoji mean nothing here
        return None
    name = emoji.name.replace("\ufe0f", "")
    return name if name in (REMIX, LIKE, DELETE, REPORT) else None


class RemixCog(commands.Cog):
    def __init__(self, bot: ReelBot) -> None:
        self.bot = bot

    async def cog_load(self) -> None:
        # Registering the template is what makes buttons posted before a restart clickable.
        self.bot.add_dynamic_items(ClipButton)

    async def cog_unload(self) -> None:
        self.bot.remove_dynamic_items(ClipButton)

    @commands.Cog.listener()
    async def on_raw_reaction_add(self, payload: discord.RawReactionActionEvent) -> None:
        kind = reaction_kind(payload.emoji)
        if kind is None or self._is_me(payload.user_id):
            return
        row = await self._clip(payload.message_id)
        if row is None or row.deleted_at is not None:
            return  # not a clip, or one already deleted
        try:
            if kind == REMIX:
                await self._remix(payload, row)
            elif kind == LIKE:
                if row.status == GenerationStatus.DONE:
                    name = payload.member.display_name if payload.member else ""
                    await asyncio.to_thread(
                        self.bot.community.like, row.id, f"discord:{payload.user_id}", name
                    )
            elif kind == REPORT:
                await report_clip(self.bot, row, payload.user_id)
                await self._take_back(payload, row)
            else:
                await self._delete(payload, row)
        except Exception:
            log.exception(
                "%s reaction by %s failed", kind, payload.user_id, extra={"generation_id": row.id}
            )

    @commands.Cog.listener()
    async def on_raw_reaction_remove(self, payload: discord.RawReactionActionEvent) -> None:
        if reaction_kind(payload.emoji) != LIKE or self._is_me(payload.user_id):
            return
        row = await self._clip(payload.message_id)
        if row is not None:
            await asyncio.to_thread(self.bot.community.unlike, row.id, f"discord:{payload.user_id}")

    async def _clip(self, message_id: int) -> Generation | None:
        """The clip a message shows. Delivery records a message's id just after posting it, so
        a reaction quicker than that finds nothing at first: a message seconds old is looked
        up once more after a moment, rather than the reaction being ignored."""
        row = await asyncio.to_thread(self.bot.community.by_message, message_id)
        if row is None and _age_s(message_id) < FRESH_S:
            await asyncio.sleep(RECORDED_WITHIN_S)
            row = await asyncio.to_thread(self.bot.community.by_message, message_id)
        return row

    def _is_me(self, user_id: int) -> bool:
        return self.bot.user is not None and user_id == self.bot.user.id

    def _result(self, payload: discord.RawReactionActionEvent) -> discord.PartialMessage:
        channel = self.bot.get_partial_messageable(payload.channel_id, guild_id=payload.guild_id)
        return channel.get_partial_message(payload.message_id)

    async def _remix(self, payload: discord.RawReactionActionEvent, row: Generation) -> None:
        """The reactor's own job, once per window (`REMIX_WINDOW_S`). A refusal frees the
        window (nothing was made, so a 🔁 once the cause is gone works) and is told privately,
        as there is no interaction to answer: `bot.notices.tell_member`."""
        claim = remixed_key(payload.user_id, row.id)
        if not await first_within(self.bot.queue, claim, REMIX_WINDOW_S):
            log.info(
                "🔁 again by %s: already remixed", payload.user_id, extra={"generation_id": row.id}
            )
            return
        result = self._result(payload)
        reply_to = result.to_reference(fail_if_not_exists=False)
        guild = self.bot.get_guild(payload.guild_id) if payload.guild_id else None
        asker = Asker(
            user_id=payload.user_id,
            display_name=payload.member.display_name[:100] if payload.member else "",
            guild_id=payload.guild_id,
            channel_id=payload.channel_id,
            upload_limit=guild.filesize_limit if guild else DEFAULT_UPLOAD_LIMIT,
            role_ids=role_ids(payload.member) if payload.member else (),
            nsfw=is_nsfw(self.bot.get_channel(payload.channel_id)),
        )

        async def post(text: str) -> int:
            queued = await result.channel.send(
                text, reference=reply_to, allowed_mentions=discord.AllowedMentions.none()
            )
            return queued.id

        try:
            spec = follow_up_spec(
                RenderSpec.model_validate(row.spec),
                row.id,
                "reroll",
                asker,
                self.bot.model_capabilities,
                self.bot.style_presets,
                default_quality=self.bot.default_quality,
            )
            await submit_request(self.bot, spec, asker, post)
        except Exception as exc:
            if not isinstance(exc, ContentHeld):  # held: made, and waiting for a moderator
                await self.bot.queue.delete(claim)
            if not isinstance(exc, UserFacingError):
                raise
            await tell_member(
                self.bot,
                self.bot.queue,
                user_id=payload.user_id,
                topic=f"remix:{type(exc).__name__}",
                text=f"About your 🔁 on {result.jump_url}: {exc}",
                fallback=result,
            )

    async def _delete(self, payload: discord.RawReactionActionEvent, row: Generation) -> None:
        result = self._result(payload)
        if may_delete(row, payload.user_id, manage_messages=self._moderates(payload)):
            await delete_clip(self.bot, row.id, await result.fetch())
            return
        await self._take_back(payload, row)

    async def _take_back(self, payload: discord.RawReactionActionEvent, row: Generation) -> None:
        result = self._result(payload)
        try:
            await result.remove_reaction(payload.emoji, discord.Object(payload.user_id))
        except discord.HTTPException as exc:  # no Manage Messages, or in DMs: leave it
            log.info(
                "could not take back a %s: %s", payload.emoji, exc, extra={"generation_id": row.id}
            )

    def _moderates(self, payload: discord.RawReactionActionEvent) -> bool:
        """Manage Messages in the channel reacted in (never in DMs, where only owners delete)."""
        guild = self.bot.get_guild(payload.guild_id) if payload.guild_id else None
        place = guild.get_channel_or_thread(payload.channel_id) if guild else None
        if place is None or payload.member is None:
            return False
        return place.permissions_for(payload.member).manage_messages


async def setup(bot: ReelBot) -> None:
    await bot.add_cog(RemixCog(bot))
