"""What sends a request or a clip to the moderators: a prompt screening flagged, and a clip
enough members reported.

    request ─ screening (`intake.screening`): flag → row recorded "held", review message
              posted (Approve / Reject), ContentHeld (the member reads "held")
    🚩 × threshold → "ok" → "hidden", result message edited, review message posted
                   (Restore / Remove); the first 🚩 also has a worker scan the clip
                   (`bot.moderation.clip_review.Rescans`)

Intake reaches `hold` through `ReelBot.hold_for_review`, never by importing it: moderation
imports intake (an approved request is submitted again), so the arrow points one way.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from bot.messages import command_name
from bot.moderation.buttons import post_review
from bot.moderation.decisions import (
    HIDDEN_NOTE,
    SYSTEM,
    audit,
    edit_result,
    member_key,
    move,
    plain,
    user_id_of,
)
from core.commandline import to_command_line
from core.errors import ContentBlocked, ContentHeld
from core.spec import RenderSpec
from gallery.models import Generation, GenerationCreate, Moderation
from gallery.web import clip_url

if TYPE_CHECKING:
    from bot.app import ReelBot
    from bot.intake.requests import Asker
    from core.policy import PolicyDecision


def held_text(
    bot: ReelBot,
    spec: RenderSpec,
    user_id: int,
    where: str,
    *,
    rule: str,
    category: str,
    reason: str,
    matched: str,
    field: str,
) -> str:
    """The review message of a held request: who asked and where ("in <#1>", "in a DM", "via
    the REST API"), the rule that held it and what it matched, and the command it reads as."""
    command_line = to_command_line(
        spec, capabilities=bot.model_capabilities, default_quality=bot.default_quality
    )
    return (
        f"🛡️ **Held for review** · <@{user_id}> {where}\n"
        f"Rule `{rule}` ({category}): {reason}\n"
        f"Matched `{plain(matched)}` in the {field or 'prompt'}\n"
        f"`{command_name(spec)} {plain(command_line)}`"
    )


async def hold(
    bot: ReelBot, spec: RenderSpec, asker: Asker, decision: PolicyDecision, generation_id: str
) -> None:
    """Record the request as held, show it to the moderators, then tell the member (ContentHeld).
    Without a review channel nobody could approve it, so it is refused instead."""
    channel_id = bot.review_config.channel_id
    if channel_id is None:
        raise ContentBlocked(f"I can't make this clip: {decision.reason}")
    row = GenerationCreate.from_spec(generation_id, spec.model_dump(mode="json"))
    await asyncio.to_thread(bot.store.add_generation, row)
    await asyncio.to_thread(bot.store.set_moderation, generation_id, Moderation.HELD)
    where = f"in <#{asker.channel_id}>" if asker.guild_id is not None else "in a DM"
    text = held_text(
        bot,
        spec,
        asker.user_id,
        where,
        rule=decision.rule or "",
        category=decision.category or "",
        reason=decision.reason,
        matched=decision.matched or "",
        field=decision.field or "",
    )
    try:
        await post_review(bot, text, ("approve", "reject"), generation_id)
    except BaseException:
        await asyncio.shield(
            asyncio.to_thread(bot.store.mark_failed, generation_id, error="review not posted")
        )
        raise
    await asyncio.to_thread(
        bot.moderation_store.record,
        "hold",
        moderator_id=SYSTEM,
        guild_id=asker.guild_id,
        target_member_id=asker.owner_id,
        target_generation_id=generation_id,
        reason=f"{decision.rule}: {decision.reason}",
    )
    raise ContentHeld(
        f"Your request is held for review by a moderator: {decision.reason} "
        "I'll let you know when they decide."
    )


async def report_clip(bot: ReelBot, row: Generation, reporter_id: int) -> bool:
    """Count a member's 🚩; at the threshold the clip is hidden and goes to review. True when
    this report hid it."""
    if row.owner_id == member_key(reporter_id) or row.moderation != Moderation.OK:
        return False
    reporter = member_key(reporter_id)
    added, count = await asyncio.to_thread(bot.moderation_store.report, row.id, reporter)
    if added and count == 1:  # the first report: a worker looks at the clip itself too
        bot.rescans.start(row)
    if not added or count < bot.review_config.report_threshold:
        return False
    if not await move(bot, row, (Moderation.OK,), Moderation.HIDDEN):
        return False
    reason = f"{count} members reported it"
    await audit(bot.moderation_store, "hide", row, SYSTEM, reason)
    await edit_result(bot, row, HIDDEN_NOTE)
    if bot.review_config.channel_id is not None:
        text = (
            f"🚩 **Reported clip hidden** · by <@{user_id_of(row.owner_id) or 0}>, {reason}\n"
            f"> {plain(row.prompt)[:500]}\n{clip_url(bot.deliverer.public_url, row.id)}"
        )
        await post_review(bot, text, ("restore", "remove"), row.id)
    return True
