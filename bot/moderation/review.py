"""Moderator review: requests the policy flags wait for Approve / Reject, reported clips for
Restore / Remove, and the bans that stop a member asking at all.

    request ─ banned? → MemberBanned ─ policy: block → ContentBlocked
                                              flag  → row recorded "held", review message posted,
                                                      ContentHeld (the member reads "held")
    Approve → "held" → "ok", then the normal submit path: queued in the original channel, the
              clip replies there.  Reject (a reason) → "held" → "removed", failed, member told.
    🚩 × threshold → "ok" → "hidden", result message edited, review message posted (the first
                   🚩 also has a worker scan the clip: `bot.moderation.clip_review`, as are the
                   clips the
                   output scan held, whose Approve / Reject these buttons also decide).
    Restore → "hidden" → "ok" (reports dismissed, clip back).  Remove → "hidden" → "removed".

Each decision is one conditional state change in the gallery (`ModerationStore.transition`), so
two moderators clicking at once act once; the other is told it was already decided. Every
decision is an audit row. Review buttons are `DynamicItem`s (`reelbot:<action>:<gid>`): they
keep working after a restart, and refuse anyone who is not a moderator.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal, get_args

import discord

from bot.delivery.targets import DEFAULT_UPLOAD_LIMIT
from bot.messages import command_name, result_text
from bot.replies import answer_error
from core.errors import ContentBlocked, ContentHeld, MemberBanned, UserFacingError
from core.flags import to_command_line
from core.spec import RenderSpec
from gallery.models import Generation, GenerationCreate, GenerationStatus, Moderation
from gallery.web import clip_url

if TYPE_CHECKING:
    from bot.app import ReelBot
    from bot.intake.requests import Asker
    from core.policy import PolicyDecision

log = logging.getLogger(__name__)

SYSTEM = "system"  # the moderator of record for what the report threshold does
REFUSED = "Only moderators can do that."
HIDDEN_NOTE = "🚩 This clip is hidden pending review by a moderator."
HIDDEN_BY_MOD = "🚫 This clip was hidden by a moderator."
REMOVED_NOTE = "🚫 This clip was removed by a moderator."


@dataclass(frozen=True, slots=True)
class ReviewConfig:
    """Where reviews go and who may decide them (from `BotSettings`)."""

    channel_id: int | None = None
    moderator_role_ids: frozenset[int] = field(default_factory=frozenset)
    report_threshold: int = 3
    # guild id (or "*") → output-scan categories NSFW channels there skip the hold for
    nsfw_scan_skip: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def scan_skip(self, guild_id: int | None) -> tuple[str, ...]:
        """What an NSFW channel of this guild waives (its own entry, else the "*" one)."""
        if guild_id is None:
            return ()
        return tuple(self.nsfw_scan_skip.get(str(guild_id), self.nsfw_scan_skip.get("*", ())))


def member_key(user_id: int) -> str:
    return f"discord:{user_id}"


def user_id_of(member_id: str | None) -> int | None:
    """The Discord user id in "discord:123", or None for other front ends."""
    prefix, _, rest = (member_id or "").partition(":")
    return int(rest) if prefix == "discord" and rest.isdigit() else None


_DURATION = re.compile(r"(\d{1,6})\s*([mhdw])")
_UNITS = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
MAX_BAN = timedelta(days=3650)


def parse_duration(text: str | None) -> timedelta | None:
    """ "1h", "3d", "2w", "1d12h" → a timedelta; empty → None (permanent); else UserFacingError."""
    text = (text or "").strip().lower().replace(" ", "")
    if not text:
        return None
    if not re.fullmatch(rf"(?:{_DURATION.pattern})+", text):
        raise UserFacingError(
            f"`{text[:20]}` is not a duration. Use minutes, hours, days or weeks, "
            "like 30m, 1h, 3d, 2w (or leave it out for a permanent ban)."
        )
    seconds = sum(int(n) * _UNITS[unit] for n, unit in _DURATION.findall(text))
    if seconds <= 0:
        raise UserFacingError("A ban must last at least a minute.")
    return min(timedelta(seconds=seconds), MAX_BAN)


def when(moment: datetime | None) -> str:
    """A time every member reads in their own zone (Discord's timestamp markup)."""
    return "for good" if moment is None else f"until <t:{int(moment.timestamp())}:f>"


def is_moderator(bot: ReelBot, interaction: discord.Interaction[Any]) -> bool:
    """Manage Messages where they act, or one of the configured moderator roles."""
    if interaction.guild_id is None:
        return False
    if interaction.permissions.manage_messages:
        return True
    roles = {role.id for role in getattr(interaction.user, "roles", ())}
    return not roles.isdisjoint(bot.review.moderator_role_ids)


# --- requests -----------------------------------------------------------------------------------


async def screen(bot: ReelBot, spec: RenderSpec, asker: Asker) -> PolicyDecision:
    """MemberBanned or ContentBlocked, else the policy's decision (allow or flag).

    Bans are read through `bot.bans` (`bot.intake.caches.Bans`): a ban given through this process
    counts at once, one given through another bot process within its TTL (30 s).

    A prompt the word lists allow is read by the abuse classifier too (`bot.moderation.toxicity`,
    when
    on): at its threshold the request is flagged, so a moderator decides; the model alone never
    refuses. It reads the member's prompt only (no style suffix, no negative prompt), and runs
    in a thread: a few milliseconds of scikit-learn would stall every other interaction."""
    ban = await bot.bans.active(asker.owner_id, asker.guild_id)
    if ban is not None:
        why = f" ({ban.reason})" if ban.reason else ""
        raise MemberBanned(f"A moderator has stopped you making clips here {when(ban.until)}{why}.")
    decision = bot.policy.check(spec.prompt, spec.negative_prompt, spec.style)
    if decision.decision == "block":
        raise ContentBlocked(f"I can't make this clip: {decision.reason}")
    if decision.decision == "allow" and bot.toxicity is not None:
        flagged = await asyncio.to_thread(bot.toxicity.decide, spec.prompt, decision.normalized)
        if flagged is not None:
            return flagged
    return decision


async def hold(
    bot: ReelBot, spec: RenderSpec, asker: Asker, decision: PolicyDecision, generation_id: str
) -> None:
    """Record the request as held, show it to the moderators, then tell the member (ContentHeld).
    Without a review channel nobody could approve it, so it is refused instead."""
    channel_id = bot.review.channel_id
    if channel_id is None:
        raise ContentBlocked(f"I can't make this clip: {decision.reason}")
    row = GenerationCreate.from_spec(generation_id, spec.model_dump(mode="json"))
    await asyncio.to_thread(bot.store.add_generation, row)
    await asyncio.to_thread(bot.store.set_moderation, generation_id, Moderation.HELD)
    where = f"<#{asker.channel_id}>" if asker.guild_id is not None else "a DM"
    text = (
        f"🛡️ **Held for review** · <@{asker.user_id}> in {where}\n"
        f"Rule `{decision.rule}` ({decision.category}): {decision.reason}\n"
        f"Matched `{plain(decision.matched or '')}` in the {decision.field or 'prompt'}\n"
        f"`{command_name(spec)} {plain(to_command_line(spec, capabilities=bot.capabilities))}`"
    )
    try:
        await post_review(bot, text, ("approve", "reject"), generation_id)
    except BaseException:
        await asyncio.shield(
            asyncio.to_thread(bot.store.mark_failed, generation_id, error="review not posted")
        )
        raise
    await asyncio.to_thread(
        bot.moderation.record,
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


async def approve(bot: ReelBot, row: Generation, moderator_id: int) -> None:
    """Submit a held request as its member's own, into the channel they asked in."""
    from bot.intake.requests import Asker, submit_request  # requests imports this module

    spec = RenderSpec.model_validate(row.spec)
    user_id = user_id_of(row.owner_id)
    if user_id is None or spec.channel_id is None:
        raise UserFacingError("This request did not come from Discord; I can't deliver it.")
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
    await audit(bot, "approve", row, moderator_id)


async def reject(bot: ReelBot, row: Generation, moderator_id: int, reason: str) -> None:
    await asyncio.to_thread(
        bot.store.mark_failed, row.id, error=f"Not approved by a moderator: {reason}"
    )
    await audit(bot, "reject", row, moderator_id, reason)
    await tell(bot, row, f"A moderator did not approve your request: {plain(reason)}")


async def tell(bot: ReelBot, row: Generation, text: str) -> None:
    """A DM to the member, with their prompt; if their DMs are closed, a reply in the channel
    they asked in (without the prompt)."""
    user_id = user_id_of(row.owner_id)
    if user_id is None:
        return
    try:
        user = await bot.fetch_user(user_id)
        await user.send(f"{text}\n> {plain(row.prompt)[:1500]}")
        return
    except discord.HTTPException as exc:
        log.info("[%s] no DM to %s (%s); telling the channel", row.id, user_id, exc)
    if row.channel_id is not None:
        channel = bot.get_partial_messageable(row.channel_id, guild_id=row.guild_id)
        mentions = discord.AllowedMentions(users=[discord.Object(user_id)])
        await channel.send(f"<@{user_id}> {text}", allowed_mentions=mentions)


# --- clips --------------------------------------------------------------------------------------


async def report_clip(bot: ReelBot, row: Generation, reporter_id: int) -> bool:
    """Count a member's 🚩; at the threshold the clip is hidden and goes to review. True when
    this report hid it."""
    if row.owner_id == member_key(reporter_id) or row.moderation != Moderation.OK:
        return False
    added, count = await asyncio.to_thread(bot.moderation.report, row.id, member_key(reporter_id))
    if added and count == 1:  # the first report: a worker looks at the clip itself too
        bot.rescans.start(row)
    if not added or count < bot.review.report_threshold:
        return False
    if not await _move(bot, row, (Moderation.OK,), Moderation.HIDDEN):
        return False
    reason = f"{count} members reported it"
    await audit(bot, "hide", row, SYSTEM, reason)
    await edit_result(bot, row, HIDDEN_NOTE)
    if bot.review.channel_id is not None:
        text = (
            f"🚩 **Reported clip hidden** · by <@{user_id_of(row.owner_id) or 0}>, {reason}\n"
            f"> {plain(row.prompt)[:500]}\n{clip_url(bot.delivery.public_url, row.id)}"
        )
        await post_review(bot, text, ("restore", "remove"), row.id)
    return True


async def hide(bot: ReelBot, row: Generation, moderator_id: int, reason: str = "") -> bool:
    if not await _move(bot, row, (Moderation.OK, Moderation.HELD), Moderation.HIDDEN):
        return False
    await audit(bot, "hide", row, moderator_id, reason)
    await edit_result(bot, row, HIDDEN_BY_MOD)
    return True


async def restore(bot: ReelBot, row: Generation, moderator_id: int, action: str = "unhide") -> bool:
    """Back to public (reports so far dismissed), the result message as it was."""
    if not await _move(bot, row, (Moderation.HIDDEN, Moderation.REMOVED), Moderation.OK):
        return False
    await asyncio.to_thread(bot.moderation.dismiss_reports, row.id)
    await audit(bot, action, row, moderator_id)
    await restore_result(bot, row)
    return True


async def remove(bot: ReelBot, row: Generation, moderator_id: int, reason: str = "") -> bool:
    if not await _move(bot, row, (Moderation.HIDDEN, Moderation.OK), Moderation.REMOVED):
        return False
    await audit(bot, "remove", row, moderator_id, reason)
    await edit_result(bot, row, REMOVED_NOTE)
    return True


async def _move(
    bot: ReelBot, row: Generation, sources: Iterable[Moderation], to: Moderation
) -> bool:
    return await asyncio.to_thread(bot.moderation.transition, row.id, tuple(sources), to)


async def audit(
    bot: ReelBot, action: str, row: Generation, moderator_id: int | str, reason: str = ""
) -> None:
    """An audit row about a clip, by a moderator's Discord id or SYSTEM."""
    await asyncio.to_thread(
        bot.moderation.record,
        action,
        moderator_id=member_key(moderator_id) if isinstance(moderator_id, int) else moderator_id,
        guild_id=row.guild_id,
        target_member_id=row.owner_id,
        target_generation_id=row.id,
        reason=reason,
    )


def _result(bot: ReelBot, row: Generation) -> discord.PartialMessage | None:
    if row.channel_id is None or row.discord_message_id is None:
        return None
    channel = bot.get_partial_messageable(row.channel_id, guild_id=row.guild_id)
    return channel.get_partial_message(row.discord_message_id)


async def edit_result(bot: ReelBot, row: Generation, note: str) -> None:
    """The result message keeps its id but shows `note` instead of the clip and its buttons."""
    message = _result(bot, row)
    if message is None:
        return
    try:
        await message.edit(content=note, attachments=[], view=None)
    except discord.HTTPException as exc:  # deleted meanwhile, or no access: the gallery counts
        log.info("[%s] result message not edited: %s", row.id, exc)


async def restore_result(bot: ReelBot, row: Generation) -> None:
    """The result message as delivery posted it: caption, clip (if it fits), buttons."""
    from bot.delivery.views import result_view  # views → requests → this module

    message = _result(bot, row)
    owner = user_id_of(row.owner_id)
    if message is None or owner is None:
        return
    spec = RenderSpec.model_validate(row.spec)
    files: list[discord.File] = []
    how = "link"
    if row.media_path:
        limit = spec.upload_limit or DEFAULT_UPLOAD_LIMIT
        path = await asyncio.to_thread(bot.media.fetch, row.media_path, max_bytes=limit)
        if path is not None:
            files, how = [discord.File(path, filename=f"reelbot-{spec.seed}.mp4")], "full"
    text = result_text(owner, spec, clip_url(bot.delivery.public_url, row.id), how=how)
    try:
        await message.edit(
            content=text,
            attachments=files,
            view=result_view(row.id, bot.delivery.modes),
            allowed_mentions=discord.AllowedMentions.none(),
        )
    except discord.HTTPException as exc:
        log.info("[%s] result message not restored: %s", row.id, exc)


def plain(text: str) -> str:
    """Member text inside a moderator's message: one line, no code-span breaking, no pings."""
    return " ".join(text.split()).replace("`", "ˋ").replace("@", "@\u200b")


# --- the review message and its buttons ---------------------------------------------------------

ReviewAction = Literal["approve", "reject", "restore", "remove"]
TEMPLATE = re.compile(
    rf"reelbot:(?P<action>{'|'.join(get_args(ReviewAction))}):(?P<gid>[0-9a-f]{{32}})"
)
LOOKS: dict[str, tuple[str, discord.ButtonStyle]] = {
    "approve": ("Approve", discord.ButtonStyle.success),
    "reject": ("Reject", discord.ButtonStyle.danger),
    "restore": ("Restore", discord.ButtonStyle.success),
    "remove": ("Remove", discord.ButtonStyle.danger),
}
DONE: dict[str, str] = {
    "approve": "✅ Approved",
    "reject": "❌ Rejected",
    "restore": "✅ Restored",
    "remove": "🗑️ Removed",
}


async def post_review(
    bot: ReelBot,
    text: str,
    actions: tuple[ReviewAction, ...],
    generation_id: str,
    *,
    file: discord.File | None = None,
    nonce: str | None = None,
) -> None:
    """A message in the review channel with the decision buttons; `nonce` makes a repeated
    post (delivery retrying) return the first message instead of a second one."""
    assert bot.review.channel_id is not None
    view = discord.ui.View(timeout=None)
    for action in actions:
        view.add_item(ReviewButton(action, generation_id))
    channel = bot.get_partial_messageable(bot.review.channel_id)
    extra: dict[str, Any] = {"nonce": nonce} if nonce else {}
    if file is not None:
        extra["file"] = file
    await channel.send(
        text[:2000], view=view, allowed_mentions=discord.AllowedMentions.none(), **extra
    )


async def _decided(interaction: discord.Interaction[ReelBot], action: str, why: str = "") -> None:
    """The review message records the decision and loses its buttons."""
    assert interaction.message is not None
    line = f"\n{DONE[action]} by <@{interaction.user.id}>" + (f": {plain(why)}" if why else "")
    await interaction.response.edit_message(
        content=(interaction.message.content + line)[:2000],
        view=None,
        allowed_mentions=discord.AllowedMentions.none(),
    )


class RejectForm(discord.ui.Modal, title="Reject this request"):
    reason: discord.ui.TextInput[RejectForm] = discord.ui.TextInput(
        label="Why (the member reads this)",
        style=discord.TextStyle.paragraph,
        min_length=1,
        max_length=500,
        custom_id="reason",
    )

    def __init__(self, generation_id: str) -> None:
        super().__init__(timeout=30 * 60)
        self.generation_id = generation_id

    async def on_submit(self, interaction: discord.Interaction[ReelBot]) -> None:  # type: ignore[override]
        bot = interaction.client
        row = await _row(bot, self.generation_id)
        if not await _move(bot, row, (Moderation.HELD,), Moderation.REMOVED):
            raise UserFacingError("Another moderator already decided on this request.")
        await _decided(interaction, "reject", self.reason.value)
        if row.status == GenerationStatus.DONE:  # a clip the output scan held
            from bot.moderation.clip_review import reject_clip

            await reject_clip(bot, row, interaction.user.id, self.reason.value)
        else:
            await reject(bot, row, interaction.user.id, self.reason.value)

    async def on_error(  # type: ignore[override]
        self, interaction: discord.Interaction[ReelBot], error: Exception
    ) -> None:
        await answer_error(interaction, error)


async def _row(bot: ReelBot, generation_id: str) -> Generation:
    row = await asyncio.to_thread(bot.store.get, generation_id)
    if row is None:
        raise UserFacingError("I can't find this clip any more.")
    return row


class ReviewButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=TEMPLATE):
    """Approve / Reject under a held request, Restore / Remove under a reported clip."""

    def __init__(self, action: ReviewAction, generation_id: str) -> None:
        label, style = LOOKS[action]
        super().__init__(
            discord.ui.Button(
                label=label, style=style, custom_id=f"reelbot:{action}:{generation_id}"
            )
        )
        self.action: ReviewAction = action
        self.generation_id = generation_id

    @classmethod
    async def from_custom_id(  # type: ignore[override]
        cls,
        interaction: discord.Interaction[ReelBot],
        item: discord.ui.Button[Any],
        match: re.Match[str],
        /,
    ) -> ReviewButton:
        return cls(match["action"], match["gid"])  # type: ignore[arg-type]

    async def interaction_check(self, interaction: discord.Interaction[ReelBot], /) -> bool:  # type: ignore[override]
        if is_moderator(interaction.client, interaction):
            return True
        await interaction.response.send_message(REFUSED, ephemeral=True)
        return False

    async def callback(self, interaction: discord.Interaction[ReelBot]) -> None:  # type: ignore[override]
        bot = interaction.client
        try:
            if self.action == "reject":  # a modal must be the first response
                await interaction.response.send_modal(RejectForm(self.generation_id))
                return
            row = await _row(bot, self.generation_id)
            if self.action == "approve":
                if not await _move(bot, row, (Moderation.HELD,), Moderation.OK):
                    raise UserFacingError("Another moderator already decided on this request.")
                try:
                    await _decided(interaction, "approve")
                finally:  # approved is approved: a failed edit must not strand the request
                    if row.status == GenerationStatus.DONE:  # a clip the output scan held
                        from bot.moderation.clip_review import approve_clip

                        await approve_clip(bot, row, interaction.user.id)
                    else:
                        await approve(bot, row, interaction.user.id)
                return
            if self.action == "restore":
                done = await restore(bot, row, interaction.user.id, action="restore")
            else:
                done = await remove(bot, row, interaction.user.id)
            if not done:
                raise UserFacingError("Another moderator already decided on this clip.")
            await _decided(interaction, self.action)
        except Exception as exc:
            await answer_error(interaction, exc)
