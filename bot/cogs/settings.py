"""`/settings`: a member's default flags, applied to each of their `/create` requests.

Defaults belong to the member, not to a server: the same `-ar 9:16` follows them into every
server and into DMs. They are stored in the canonical spelling (see `core.defaults`) and read
again, against the model loaded now, on every request. The stored text is cached for a minute
(`intake.caches.DefaultFlags`): a change made here counts at once, one made through another bot
process within that minute.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from core.defaults import MAX_DEFAULTS_CHARS, defaults_text, parse_defaults
from core.errors import FlagError, UserFacingError
from core.flags import ParsedPrompt
from intake.followups import read_defaults

if TYPE_CHECKING:
    from bot.app import ReelBot

__all__ = ["SettingsCog", "member_defaults", "member_id", "setup"]


def member_id(user: discord.abc.User) -> str:
    """The gallery's id for a Discord member."""
    return f"discord:{user.id}"


def _read(bot: ReelBot, text: str) -> ParsedPrompt:
    return parse_defaults(
        text,
        styles=bot.style_presets,
        max_seconds=bot.model_capabilities.max_seconds,
        sound_supported=bot.model_capabilities.makes_sound,
    )


async def member_defaults(bot: ReelBot, user: discord.abc.User) -> ParsedPrompt | None:
    """The member's saved defaults, read against the model loaded now; None if they have none
    (`intake.followups.read_defaults`: defaults that no longer fit are an error)."""
    text = await bot.default_flags.get(member_id(user))
    return read_defaults(text, bot.model_capabilities, bot.style_presets)


class SettingsCog(commands.Cog):
    def __init__(self, bot: ReelBot) -> None:
        self.bot = bot

    @app_commands.command(name="settings")
    @app_commands.describe(
        flags="Flags for all your /create requests, like -ar 9:16 -motion 2",
        clear="Remove your default flags",
    )
    async def settings(
        self,
        interaction: discord.Interaction[ReelBot],
        flags: app_commands.Range[str, 1, MAX_DEFAULTS_CHARS] | None = None,
        clear: bool = False,
    ) -> None:
        """Show or set the flags used for every /create you make."""
        bot = interaction.client
        who = member_id(interaction.user)
        if flags is not None and clear:
            raise UserFacingError("Give either `flags` or `clear`, not both.")
        if clear:
            await asyncio.to_thread(bot.community.set_default_flags, who, "")
            bot.default_flags.forget(who)
            text = "Cleared your default flags; /create uses the model's defaults again."
        elif flags is not None:
            saved = defaults_text(_read(bot, flags))
            if len(saved) > MAX_DEFAULTS_CHARS:  # `-camera ccw` is stored as `rotate counter…`
                raise FlagError(
                    f"Written out in full these defaults are {len(saved)} characters; "
                    f"the limit is {MAX_DEFAULTS_CHARS}."
                )
            name = interaction.user.display_name
            await asyncio.to_thread(bot.community.set_default_flags, who, saved, name)
            bot.default_flags.forget(who)
            text = (
                f"Saved. Your /create requests now default to `{saved}`; "
                "a flag or option you give in a request wins over its default."
                if saved
                else "Saved: no default flags."
            )
        else:
            current = await asyncio.to_thread(bot.community.default_flags, who)
            bot.default_flags.forget(who)  # /create goes by what was just shown
            text = (
                f"Your default flags: `{current}`. Change them with `/settings flags:…`, "
                "remove them with `/settings clear:True`."
                if current
                else "You have no default flags. Set some with `/settings flags:-ar 9:16`."
            )
        await interaction.response.send_message(
            text, ephemeral=True, allowed_mentions=discord.AllowedMentions.none()
        )


async def setup(bot: ReelBot) -> None:
    await bot.add_cog(SettingsCog(bot))
