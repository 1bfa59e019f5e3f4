"""`/character save|list|delete`: a member's saved characters, for `-ref NAME` on /create.

A picture is checked and re-encoded exactly as /animate's (`intake.media.images` on the bot's
`UploadChecks`), the name goes through the prompt policy (`intake.characters.screen_names`),
and both are checked before anything is kept. `server_wide` is for moderators (Manage
Messages, or a moderator role: `ReviewConfig.is_moderator`): everyone in the server may use
such a character. Every answer is private. The picture is stored under the character's own
id (`<id>.char.png`); a replaced or deleted character's picture is removed with it.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from core.characters import MAX_CHARACTERS, MAX_NAME_CHARS, name_key, name_problem
from core.errors import UserFacingError
from gallery.characters import Character, CharacterStore
from gallery.media import parse_relative
from intake.characters import known_names, screen_names
from intake.media.images import download
from intake.screening import when
from intake.submit import new_generation_id

if TYPE_CHECKING:
    from bot.app import ReelBot

log = logging.getLogger(__name__)

DOWNLOAD_TIMEOUT_S = 15.0
PICTURE_KIND = "char.png"
NO_MENTIONS = discord.AllowedMentions.none()


def owner_of(interaction: discord.Interaction[ReelBot]) -> str:
    return f"discord:{interaction.user.id}"


def line_for(character: Character, member_id: str) -> str:
    """One `/character list` line: the name and whose it is."""
    if character.owner_id == member_id:
        return f"• `{character.name}` — yours"
    saver = character.created_by.removeprefix("discord:")
    by = f" by <@{saver}>" if saver.isdigit() else ""
    return f"• `{character.name}` — everyone here (saved{by})"


class CharacterCog(commands.Cog):
    character = app_commands.Group(
        name="character", description="Characters you can put in clips with -ref NAME"
    )

    def __init__(self, bot: ReelBot) -> None:
        self.bot = bot
        self.characters = CharacterStore(bot.store.engine)

    @character.command(name="save")
    @app_commands.describe(
        name=f"What to call it in -ref NAME: up to {MAX_NAME_CHARS} letters, digits, -, _",
        image="A picture of the character: PNG, JPEG, WebP or GIF, at least 64×64, up to 10 MB",
        server_wide="Moderators: let everyone here use it",
    )
    async def save(
        self,
        interaction: discord.Interaction[ReelBot],
        name: app_commands.Range[str, 1, MAX_NAME_CHARS],
        image: discord.Attachment,
        server_wide: bool = False,
    ) -> None:
        """Save a character's picture under a name, for -ref NAME on /create."""
        bot = interaction.client
        member = owner_of(interaction)
        guild = interaction.guild_id
        name = " ".join(name.split())
        if (problem := name_problem(name)) is not None:
            raise UserFacingError(f"{problem[0].upper()}{problem[1:]}.")
        if server_wide and not bot.review_config.is_moderator(interaction):
            raise UserFacingError(
                "Only moderators (Manage Messages) can save characters for everyone here. "
                "Leave `server_wide` out to keep this one as yours."
            )
        ban = await bot.bans.active(member, guild)
        if ban is not None:
            raise UserFacingError(
                f"A moderator has stopped you making clips here {when(ban.until)}."
            )
        screen_names(bot.prompt_policy, [name])
        owner = None if server_wide else member
        if owner is not None:
            await asyncio.to_thread(self._check_room, owner, guild, name)
        await interaction.response.defer(ephemeral=True, thinking=True)
        data = await download(image, timeout_s=DOWNLOAD_TIMEOUT_S)
        picture = await bot.upload_checks.image(data, image.filename)
        character_id = new_generation_id()
        stored, _size = await asyncio.to_thread(
            bot.media_store.save_bytes, character_id, picture.png, PICTURE_KIND
        )
        try:
            saved = await asyncio.to_thread(
                self.characters.save,
                character_id=character_id,
                name=name,
                picture=stored,
                owner_id=owner,
                guild_id=guild,
                created_by=member,
            )
        except BaseException:
            await asyncio.to_thread(bot.media_store.remove, character_id, [PICTURE_KIND])
            raise
        if saved.old_picture is not None:
            await asyncio.to_thread(self._remove_picture, saved.old_picture)
        whose = "for everyone here" if owner is None else "as yours"
        again = " (it replaces the one of that name)" if saved.old_picture else ""
        await interaction.followup.send(
            f"Saved **{name}** {whose}{again}. Put it in a clip with "
            f"`/create a walk in the rain -ref {name}`.",
            ephemeral=True,
            allowed_mentions=NO_MENTIONS,
        )

    def _check_room(self, owner: str, guild: int | None, name: str) -> None:
        """Refuse a new name past the cap before the picture is fetched (saving over one of
        the member's own is always fine)."""
        own = [c for c in self.characters.list_for(owner, guild) if c.owner_id == owner]
        if len(own) >= MAX_CHARACTERS and name_key(name) not in {name_key(c.name) for c in own}:
            raise UserFacingError(
                f"You keep {len(own)} characters here, the most there can be. Delete one with "
                "`/character delete` first, or save over one of yours by its name."
            )

    def _remove_picture(self, relative: str) -> None:
        try:
            character_id, kind = parse_relative(relative)
        except ValueError:
            log.warning("a character's picture path is not the store's: %r", relative)
            return
        self.bot.media_store.remove(character_id, [kind])

    @character.command(name="list")
    async def list_(self, interaction: discord.Interaction[ReelBot]) -> None:
        """List the characters you can use with -ref."""
        member = owner_of(interaction)
        rows = await asyncio.to_thread(self.characters.list_for, member, interaction.guild_id)
        if not rows:
            text = (
                "You have no characters here yet. Save one with "
                "`/character save name:Mira image:<picture>`."
            )
        else:
            lines = ["**Characters** (`-ref NAME` on /create, up to 3 a clip):"]
            lines += [line_for(c, member) for c in rows]
            text = "\n".join(lines)
        await interaction.response.send_message(text, ephemeral=True, allowed_mentions=NO_MENTIONS)

    @character.command(name="delete")
    @app_commands.describe(name="The character's name")
    async def delete(
        self,
        interaction: discord.Interaction[ReelBot],
        name: app_commands.Range[str, 1, MAX_NAME_CHARS],
    ) -> None:
        """Delete one of your characters (moderators: a server-wide one)."""
        bot = interaction.client
        member, guild = owner_of(interaction), interaction.guild_id
        moderator = bot.review_config.is_moderator(interaction)
        name = " ".join(name.split())
        if (problem := name_problem(name)) is not None:
            raise UserFacingError(f"{problem[0].upper()}{problem[1:]}.")
        try:
            gone = await asyncio.to_thread(
                self.characters.delete, member, guild, name.strip(), moderator=moderator
            )
        except PermissionError:
            raise UserFacingError(
                f"`{name}` is a character for everyone here; only a moderator can delete it."
            ) from None
        if gone is None:
            names = await asyncio.to_thread(known_names, self.characters, member, guild)
            raise UserFacingError(f"No character named '{name}' — yours are: {names}.")
        await asyncio.to_thread(self._remove_picture, gone.picture)
        await interaction.response.send_message(
            f"Deleted **{gone.name}**. Clips already made with it keep it; a clip still "
            "waiting to render with it will fail and say so.",
            ephemeral=True,
            allowed_mentions=NO_MENTIONS,
        )


async def setup(bot: ReelBot) -> None:
    await bot.add_cog(CharacterCog(bot))
