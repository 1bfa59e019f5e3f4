"""`/mod`: moderator tools — the audit log, bans, hiding clips, purging a member's clips.

Only moderators may run them: members with Manage Messages where they run the command, or with
one of the configured moderator roles (`REELBOT_MODERATOR_ROLE_IDS`); anyone else gets a private
refusal. Every answer is private, and every action is an audit row (`/mod log`). The review
buttons (Approve / Reject, Restore / Remove) live in `bot.moderation.buttons`; this cog registers
them so they keep working after a restart.
"""

from __future__ import annotations

import asyncio
import logging
import re
from datetime import timedelta
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands, tasks

from bot.moderation.buttons import REFUSED, ReviewButton
from bot.moderation.decisions import (
    HIDDEN_BY_MOD,
    SYSTEM,
    edit_result,
    hide,
    member_key,
    restore,
    user_id_of,
)
from core.errors import UserFacingError
from core.ids import GENERATION_ID_PATTERN
from core.text import without_bidi
from gallery.deletion import PURGE_GRACE, expire_purged
from gallery.models import Generation, ModerationAction, utcnow
from gallery.visibility import hide_member
from intake.screening import when

if TYPE_CHECKING:
    from bot.app import ReelBot

log = logging.getLogger(__name__)

LOG_LIMIT = 20
_GID = re.compile(rf"(?<![0-9a-f])({GENERATION_ID_PATTERN})(?![0-9a-f])")
_LINK = re.compile(r"/channels/(?:\d+|@me)/\d+/(\d+)")
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


class NotModerator(app_commands.CheckFailure):
    """Shown as is by `bot.replies.answer_error`."""


def moderators_only(interaction: discord.Interaction[ReelBot]) -> bool:
    if interaction.client.review_config.is_moderator(interaction):
        return True
    raise NotModerator(REFUSED)


async def find_clip(bot: ReelBot, text: str) -> Generation:
    """A clip by gallery id or URL, result message link, or message id."""
    text = text.strip()
    row: Generation | None = None
    if gid := _GID.search(text):
        row = await asyncio.to_thread(bot.store.get, gid[1])
    elif (link := _LINK.search(text)) or text.isdigit():
        message_id = int(link[1] if link else text)
        row = await asyncio.to_thread(bot.community.by_message, message_id)
    else:
        raise UserFacingError(
            "Give the clip as its gallery id or link, or the link or id of its result message."
        )
    if row is None:
        raise UserFacingError("I can't find that clip.")
    return row


def log_line(row: ModerationAction) -> str:
    who = "automatic" if row.moderator_id == SYSTEM else _mention(row.moderator_id)
    parts = [f"<t:{int(row.created_at.timestamp())}:R> **{row.action}** by {who}"]
    if row.target_member_id:
        parts.append(f"→ {_mention(row.target_member_id)}")
    if row.target_generation_id:
        parts.append(f"clip `{row.target_generation_id}`")
    if row.action == "ban":
        parts.append(when(row.expires_at))
    if row.reason:
        parts.append(f"— {discord.utils.escape_markdown(without_bidi(row.reason[:200]))}")
    return " ".join(parts)


def _mention(member_id: str) -> str:
    user_id = user_id_of(member_id)
    return f"<@{user_id}>" if user_id is not None else f"`{member_id}`"


@app_commands.guild_only()
class ModerationCog(commands.GroupCog, group_name="mod", group_description="Moderator tools"):
    def __init__(self, bot: ReelBot) -> None:
        self.bot = bot
        super().__init__()

    async def cog_load(self) -> None:
        self.bot.add_dynamic_items(ReviewButton)
        self.expire_purges.start()

    async def cog_unload(self) -> None:
        self.bot.remove_dynamic_items(ReviewButton)
        self.expire_purges.cancel()

    @tasks.loop(hours=1)
    async def expire_purges(self) -> None:
        """Purged clips that no moderator showed again within PURGE_GRACE are deleted, files
        and all (`gallery.deletion`)."""
        try:
            await asyncio.to_thread(
                expire_purged,
                self.bot.moderation_store,
                self.bot.community,
                self.bot.store,
                self.bot.media_store,
            )
        except Exception:  # the next round tries again; the loop must not end
            log.exception("deleting expired purges failed")

    @app_commands.command(name="log")
    @app_commands.describe(member="Only actions about this member")
    @app_commands.check(moderators_only)
    async def log(
        self, interaction: discord.Interaction[ReelBot], member: discord.User | None = None
    ) -> None:
        """The latest moderation actions in this server."""
        rows = await asyncio.to_thread(
            self.bot.moderation_store.log,
            guild_id=interaction.guild_id,
            member_id=member_key(member.id) if member else None,
            limit=LOG_LIMIT,
        )
        lines = [log_line(row) for row in rows] or ["No moderation actions yet."]
        text = "\n".join(lines)
        await interaction.response.send_message(
            text[:2000], ephemeral=True, allowed_mentions=discord.AllowedMentions.none()
        )

    @app_commands.command(name="ban")
    @app_commands.describe(
        member="Who may no longer make clips here",
        reason="Why (shown to them when they try)",
        duration="How long, like 30m, 1h, 3d, 2w; leave out for a permanent ban",
    )
    @app_commands.check(moderators_only)
    async def ban(
        self,
        interaction: discord.Interaction[ReelBot],
        member: discord.User,
        reason: app_commands.Range[str, 1, 300] | None = None,
        duration: app_commands.Range[str, 1, 20] | None = None,
    ) -> None:
        """Stop a member making clips here, for a while or for good."""
        assert interaction.guild_id is not None  # guild_only
        length = parse_duration(duration)
        until = utcnow() + length if length is not None else None
        await asyncio.to_thread(
            self.bot.moderation_store.ban,
            member_key(member.id),
            interaction.guild_id,
            created_by=member_key(interaction.user.id),
            reason=reason or "",
            until=until,
        )
        self.bot.bans.forget(member_key(member.id), interaction.guild_id)
        await self._audit(interaction, "ban", member.id, reason=reason or "", expires_at=until)
        await interaction.response.send_message(
            f"{member.mention} can't make clips here {when(until)}.",
            ephemeral=True,
            allowed_mentions=discord.AllowedMentions.none(),
        )

    @app_commands.command(name="unban")
    @app_commands.describe(member="Who may make clips here again")
    @app_commands.check(moderators_only)
    async def unban(self, interaction: discord.Interaction[ReelBot], member: discord.User) -> None:
        """Let a banned member make clips again."""
        assert interaction.guild_id is not None
        lifted = await asyncio.to_thread(
            self.bot.moderation_store.unban, member_key(member.id), interaction.guild_id
        )
        self.bot.bans.forget(member_key(member.id), interaction.guild_id)
        if not lifted:
            raise UserFacingError(f"{member.mention} is not banned here.")
        await self._audit(interaction, "unban", member.id)
        await interaction.response.send_message(
            f"{member.mention} can make clips here again.",
            ephemeral=True,
            allowed_mentions=discord.AllowedMentions.none(),
        )

    @app_commands.command(name="hide")
    @app_commands.describe(
        clip="Gallery id or link, or the result message's link or id", reason="Why"
    )
    @app_commands.check(moderators_only)
    async def hide(
        self,
        interaction: discord.Interaction[ReelBot],
        clip: app_commands.Range[str, 1, 200],
        reason: app_commands.Range[str, 1, 300] | None = None,
    ) -> None:
        """Hide a clip from the gallery and its result message."""
        await interaction.response.defer(ephemeral=True, thinking=True)
        row = await find_clip(self.bot, clip)
        if not await hide(self.bot, row, interaction.user.id, reason or ""):
            raise UserFacingError("That clip is already hidden.")
        await interaction.followup.send(f"Hidden clip `{row.id}`.", ephemeral=True)

    @app_commands.command(name="unhide")
    @app_commands.describe(clip="Gallery id or link, or the result message's link or id")
    @app_commands.check(moderators_only)
    async def unhide(
        self, interaction: discord.Interaction[ReelBot], clip: app_commands.Range[str, 1, 200]
    ) -> None:
        """Show a hidden clip again."""
        await interaction.response.defer(ephemeral=True, thinking=True)
        row = await find_clip(self.bot, clip)
        if not await restore(self.bot, row, interaction.user.id):
            raise UserFacingError("That clip is not hidden.")
        await interaction.followup.send(f"Clip `{row.id}` is back.", ephemeral=True)

    @app_commands.command(name="purge")
    @app_commands.describe(member="Whose clips to hide", reason="Why")
    @app_commands.check(moderators_only)
    async def purge(
        self,
        interaction: discord.Interaction[ReelBot],
        member: discord.User,
        reason: app_commands.Range[str, 1, 300] | None = None,
    ) -> None:
        """Hide every clip a member made; those not unhidden within a week are deleted."""
        await interaction.response.defer(ephemeral=True, thinking=True)
        rows = await asyncio.to_thread(
            hide_member,
            self.bot.moderation_store,
            self.bot.store,
            self.bot.media_store,
            member_key(member.id),
        )
        why = f"{len(rows)} clips" + (f": {reason}" if reason else "")
        await self._audit(interaction, "purge", member.id, reason=why)
        for row in rows:
            await edit_result(self.bot, row, HIDDEN_BY_MOD)
        await interaction.followup.send(
            f"Hid {len(rows)} clips by {member.mention}. Those you don't `/mod unhide` "
            f"within {PURGE_GRACE.days} days are deleted, with their files.",
            ephemeral=True,
            allowed_mentions=discord.AllowedMentions.none(),
        )

    async def _audit(
        self,
        interaction: discord.Interaction[ReelBot],
        action: str,
        member_id: int,
        **extra: object,
    ) -> None:
        await asyncio.to_thread(
            self.bot.moderation_store.record,
            action,
            moderator_id=member_key(interaction.user.id),
            guild_id=interaction.guild_id,
            target_member_id=member_key(member_id),
            **extra,  # type: ignore[arg-type]
        )


async def setup(bot: ReelBot) -> None:
    await bot.add_cog(ModerationCog(bot))
