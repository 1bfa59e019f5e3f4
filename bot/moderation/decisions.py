"""What a moderator's decision does, once it is made: a held request approved (submitted again
through intake) or rejected, a clip hidden, restored or removed, a clip the output scan held
approved or rejected — and what the member and the result message then show.

    Approve → "held" → "ok", then the normal submit path: queued in the original channel, the
              clip replies there (a REST API request: queued quietly, the API tells its client).
    Reject (a reason) → "held" → "removed", failed, member told.
    Restore → "hidden" → "ok" (reports dismissed, clip back).  Remove → "hidden" → "removed".
    a held clip (output scan): Approve → the waiting message becomes the clip;
                               Reject → it says the clip was not approved.

Each state change is one conditional update in the gallery (`ModerationStore.transition`), so
two moderators clicking at once act once; every decision is an audit row. Who may decide, and
the buttons that ask, are `bot.moderation.buttons`; what sends a request or a clip to review is
`bot.moderation.gate` and `bot.moderation.clip_review`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING

import discord

from bot.delivery.targets import DEFAULT_UPLOAD_LIMIT
from bot.delivery.views import result_view
from bot.intake.requests import Asker, submit_request
from bot.messages import result_text
from core.errors import UserFacingError
from core.spec import RenderSpec
from core.text import without_bidi
from gallery.models import Generation, Moderation
from gallery.moderation import ModerationStore
from gallery.visibility import change_moderation
from gallery.web import clip_url

if TYPE_CHECKING:
    from bot.app import ReelBot

log = logging.getLogger(__name__)

SYSTEM = "system"  # the moderator of record for what the report threshold and the scan do
HIDDEN_NOTE = "🚩 This clip is hidden pending review by a moderator."
HIDDEN_BY_MOD = "🚫 This clip was hidden by a moderator."
REMOVED_NOTE = "🚫 This clip was removed by a moderator."
REJECTED_NOTE = "🚫 A moderator did not approve this clip."


def member_key(user_id: int) -> str:
    return f"discord:{user_id}"


def user_id_of(member_id: str | None) -> int | None:
    """The Discord user id in "discord:123", or None for other front ends."""
    prefix, _, rest = (member_id or "").partition(":")
    return int(rest) if prefix == "discord" and rest.isdigit() else None


def plain(text: str) -> str:
    """Member text inside a moderator's message: one line, no code-span breaking, no pings,
    no bidi controls reordering it."""
    return " ".join(without_bidi(text).split()).replace("`", "ˋ").replace("@", "@\u200b")


# --- held requests ------------------------------------------------------------------------------


async def approve(bot: ReelBot, row: Generation, moderator_id: int) -> None:
    """Submit a held request as its member's own, into the channel they asked in."""
    spec = RenderSpec.model_validate(row.spec)
    user_id = user_id_of(row.owner_id)
    if user_id is None:
        raise UserFacingError("This request did not come from Discord; I can't deliver it.")
    if spec.channel_id is None:  # asked through the REST API, which tells the client itself
        await _approve_quietly(bot, row, spec, moderator_id)
        return
    asker = Asker(
        user_id=user_id,
        display_name=spec.owner_name,
        guild_id=spec.guild_id,
        channel_id=spec.channel_id,
        upload_limit=spec.upload_limit or DEFAULT_UPLOAD_LIMIT,
    )
    channel = bot.get_partial_messageable(spec.channel_id, guild_id=spec.guild_id)

    async def post(text: str) -> int:
        mentions = discord.AllowedMentions(users=[discord.Object(user_id)])
        return (await channel.send(text, allowed_mentions=mentions)).id

    note = "A moderator approved this request."
    try:
        await submit_request(bot, spec, asker, post, generation_id=row.id, note=note, reviewed=True)
    except Exception as exc:
        await asyncio.to_thread(bot.store.mark_failed, row.id, error=f"not queued: {exc}")
        if isinstance(exc, UserFacingError):
            await tell(bot, row, f"A moderator approved your request, but {exc}")
        raise
    await audit(bot.moderation_store, "approve", row, moderator_id)


async def _approve_quietly(
    bot: ReelBot, row: Generation, spec: RenderSpec, moderator_id: int
) -> None:
    """Queue a held API request as its member's own (their base caps in its guild, the same
    id), posting nothing: the API reads it queued and its webhooks announce the rest."""
    try:
        reservation = await bot.submitter.reserve(spec, generation_id=row.id)
        try:
            await bot.submitter.submit(spec, reservation=reservation, generation_id=row.id)
        except BaseException:
            await asyncio.shield(bot.submitter.release(reservation))
            raise
    except Exception as exc:
        await asyncio.to_thread(bot.store.mark_failed, row.id, error=f"not queued: {exc}")
        if isinstance(exc, UserFacingError):
            await tell(bot, row, f"A moderator approved your request, but {exc}")
        raise
    await audit(bot.moderation_store, "approve", row, moderator_id)


async def reject(bot: ReelBot, row: Generation, moderator_id: int, reason: str) -> None:
    await asyncio.to_thread(
        bot.store.mark_failed, row.id, error=f"Not approved by a moderator: {reason}"
    )
    await audit(bot.moderation_store, "reject", row, moderator_id, reason)
    await tell(bot, row, f"A moderator did not approve your request: {plain(reason)}")


async def tell(client: discord.Client, row: Generation, text: str) -> None:
    """A DM to the member, with their prompt; if their DMs are closed, a reply in the channel
    they asked in (without the prompt)."""
    user_id = user_id_of(row.owner_id)
    if user_id is None:
        return
    try:
        user = await client.fetch_user(user_id)
        await user.send(f"{text}\n> {plain(row.prompt)[:1500]}")
        return
    except discord.HTTPException as exc:
        log.info(
            "no DM to %s (%s); telling the channel", user_id, exc, extra={"generation_id": row.id}
        )
    if row.channel_id is not None:
        channel = client.get_partial_messageable(row.channel_id, guild_id=row.guild_id)
        mentions = discord.AllowedMentions(users=[discord.Object(user_id)])
        await channel.send(f"<@{user_id}> {text}", allowed_mentions=mentions)


# --- clips --------------------------------------------------------------------------------------


async def hide(bot: ReelBot, row: Generation, moderator_id: int, reason: str = "") -> bool:
    sources = (Moderation.OK, Moderation.HELD)
    if not await move(bot, row, sources, Moderation.HIDDEN):
        return False
    await audit(bot.moderation_store, "hide", row, moderator_id, reason)
    await edit_result(bot, row, HIDDEN_BY_MOD)
    return True


async def restore(bot: ReelBot, row: Generation, moderator_id: int, action: str = "unhide") -> bool:
    """Back to public (reports so far dismissed), the result message as it was."""
    sources = (Moderation.HIDDEN, Moderation.REMOVED)
    if not await move(bot, row, sources, Moderation.OK):
        return False
    await asyncio.to_thread(bot.moderation_store.dismiss_reports, row.id)
    await audit(bot.moderation_store, action, row, moderator_id)
    await restore_result(bot, row)
    return True


async def remove(bot: ReelBot, row: Generation, moderator_id: int, reason: str = "") -> bool:
    sources = (Moderation.HIDDEN, Moderation.OK)
    if not await move(bot, row, sources, Moderation.REMOVED):
        return False
    await audit(bot.moderation_store, "remove", row, moderator_id, reason)
    await edit_result(bot, row, REMOVED_NOTE)
    return True


async def approve_clip(bot: ReelBot, row: Generation, moderator_id: int) -> None:
    """A clip the output scan held: the waiting message becomes the clip (an edit: posted
    once), and the member hears."""
    await restore_result(bot, row)
    await audit(bot.moderation_store, "approve", row, moderator_id)
    url = clip_url(bot.deliverer.public_url, row.id)
    await tell(bot, row, f"A moderator approved your clip; it is posted now: {url}")


async def reject_clip(bot: ReelBot, row: Generation, moderator_id: int, reason: str) -> None:
    await edit_result(bot, row, REJECTED_NOTE)
    await audit(bot.moderation_store, "reject", row, moderator_id, reason)
    await tell(bot, row, f"A moderator did not approve your clip: {plain(reason)}")


# --- the record and the result message ----------------------------------------------------------


async def move(
    bot: ReelBot, row: Generation, sources: Iterable[Moderation], to: Moderation
) -> bool:
    """The row's state from one of `sources` to `to`, its files following (out of the bucket's
    public prefix unless "ok", see `gallery.visibility`); False when another decision came
    first."""
    return await asyncio.to_thread(
        change_moderation,
        bot.moderation_store,
        bot.store,
        bot.media_store,
        row.id,
        tuple(sources),
        to,
    )


async def audit(
    moderation: ModerationStore,
    action: str,
    row: Generation,
    moderator_id: int | str,
    reason: str = "",
) -> None:
    """An audit row about a clip, by a moderator's Discord id or SYSTEM."""
    await asyncio.to_thread(
        moderation.record,
        action,
        moderator_id=member_key(moderator_id) if isinstance(moderator_id, int) else moderator_id,
        guild_id=row.guild_id,
        target_member_id=row.owner_id,
        target_generation_id=row.id,
        reason=reason,
    )


def _result(client: discord.Client, row: Generation) -> discord.PartialMessage | None:
    if row.channel_id is None or row.discord_message_id is None:
        return None
    channel = client.get_partial_messageable(row.channel_id, guild_id=row.guild_id)
    return channel.get_partial_message(row.discord_message_id)


async def edit_result(client: discord.Client, row: Generation, note: str) -> None:
    """The result message keeps its id but shows `note` instead of the clip and its buttons."""
    message = _result(client, row)
    if message is None:
        return
    try:
        await message.edit(content=note, attachments=[], view=None)
    except discord.HTTPException as exc:  # deleted meanwhile, or no access: the gallery counts
        log.info("result message not edited: %s", exc, extra={"generation_id": row.id})


async def restore_result(bot: ReelBot, row: Generation) -> None:
    """The result message as delivery posted it: caption, clip (if it fits), buttons."""
    message = _result(bot, row)
    owner = user_id_of(row.owner_id)
    if message is None or owner is None:
        return
    spec = RenderSpec.model_validate(row.spec)
    files: list[discord.File] = []
    how = "link"
    if row.media_path:
        limit = spec.upload_limit or DEFAULT_UPLOAD_LIMIT
        path = await asyncio.to_thread(bot.media_store.fetch, row.media_path, max_bytes=limit)
        if path is not None:
            files, how = [discord.File(path, filename=f"reelbot-{spec.seed}.mp4")], "full"
    url = clip_url(bot.deliverer.public_url, row.id)
    text = result_text(owner, spec, url, how=how, default_quality=bot.default_quality)
    try:
        await message.edit(
            content=text,
            attachments=files,
            view=result_view(row.id, bot.deliverer.modes),
            allowed_mentions=discord.AllowedMentions.none(),
        )
    except discord.HTTPException as exc:
        log.info("result message not restored: %s", exc, extra={"generation_id": row.id})
