"""`/encrypt_text` and `/encrypt_image`: a word or a picture hidden in a clip, an optical illusion.

The prompt is read as /create reads it (flags and /settings defaults included); the message is
at most 20 characters and is screened like a prompt (`intake.illusions`, `intake.screening`).
The picture of /encrypt_image is checked exactly as /animate's (`intake.media.images`), after
bans, policy and the caps, and stored under the new id before the job exists; it decides the
clip's shape as /animate's does. A model without the mode is refused before anything is read.
The worker draws the mask and steers the clip with a ControlNet (`worker.illusion`).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.cogs.create import with_options
from bot.deferral import Deferral
from bot.intake.requests import Asker, reply_with, submit_request
from bot.intake.tickets import admitted
from core.spec import MAX_ILLUSION_CHARS, MAX_SEED, IllusionFont
from intake.followups import build_spec, read_text
from intake.illusions import (
    MAX_STRENGTH,
    MIN_STRENGTH,
    clean_message,
    require_illusion,
    with_hidden,
)
from intake.media.images import download
from intake.modes import PICTURE_DECIDES, framed_for_picture

if TYPE_CHECKING:
    from bot.app import ReelBot

DOWNLOAD_TIMEOUT_S = 15.0
STRENGTH_HELP = "How strongly it shows: 0.5 faint to 2 strong (1 by default)"


class EncryptCog(commands.Cog):
    def __init__(self, bot: ReelBot) -> None:
        self.bot = bot

    @app_commands.command(name="encrypt_text")
    @app_commands.describe(
        message=f"The word to hide, at most {MAX_ILLUSION_CHARS} characters (like GM)",
        prompt="What the clip shows; flags like -ar 16:9 -seed 7 may follow",
        font="The letters: sans (default), serif or mono, all bold",
        strength=STRENGTH_HELP,
        seed="Same seed, same clip",
        hide="Only you see the result",
    )
    async def encrypt_text(
        self,
        interaction: discord.Interaction[ReelBot],
        message: app_commands.Range[str, 1, 100],
        prompt: app_commands.Range[str, 1, 4000],
        font: IllusionFont | None = None,
        strength: app_commands.Range[float, MIN_STRENGTH, MAX_STRENGTH] | None = None,
        seed: app_commands.Range[int, 0, MAX_SEED] | None = None,
        hide: bool | None = None,
    ) -> None:
        """Hide a word in a clip: it shows when you squint."""
        bot = interaction.client
        async with bot.intake_line.turn(interaction) as place:
            capabilities = bot.model_capabilities
            require_illusion(capabilities)
            text = clean_message(message)
            parsed = read_text(prompt, capabilities, bot.style_presets)
            parsed = await with_options(interaction, parsed, {"seed": seed}, hide=hide)
            asker = Asker.of(interaction)
            spec = build_spec(parsed, asker, capabilities, default_quality=bot.default_quality)
            spec = with_hidden(spec, message=text, strength=strength, font=font)
            await submit_request(bot, spec, asker, reply_with(interaction), place=place)

    @app_commands.command(name="encrypt_image")
    @app_commands.describe(
        image="The picture to hide (a logo works best): PNG, JPEG, WebP or GIF, up to 10 MB",
        prompt="What the clip shows; flags like -seed 7 may follow",
        strength=STRENGTH_HELP,
        seed="Same seed, same clip",
        hide="Only you see the result",
    )
    async def encrypt_image(
        self,
        interaction: discord.Interaction[ReelBot],
        image: discord.Attachment,
        prompt: app_commands.Range[str, 1, 4000],
        strength: app_commands.Range[float, MIN_STRENGTH, MAX_STRENGTH] | None = None,
        seed: app_commands.Range[int, 0, MAX_SEED] | None = None,
        hide: bool | None = None,
    ) -> None:
        """Hide a picture in a clip: it shows when you squint."""
        bot = interaction.client
        with bot.intake_line.place(interaction) as place:
            capabilities = bot.model_capabilities
            require_illusion(capabilities)
            parsed = read_text(prompt, capabilities, bot.style_presets)
            parsed = await with_options(
                interaction, parsed, {"seed": seed}, hide=hide, decided=PICTURE_DECIDES
            )
            asker = Asker.of(interaction)
            await Deferral.of(interaction).arm()
            draft = build_spec(parsed, asker, capabilities, default_quality=bot.default_quality)
            with_hidden(draft, picture="draft.png", strength=strength)  # refused now, not after
            async with admitted(bot, draft, asker, place=place) as ticket:
                data = await download(image, timeout_s=DOWNLOAD_TIMEOUT_S)
                picture = await bot.upload_checks.image(data, image.filename)
                framed, note = framed_for_picture(
                    parsed, picture.source_width, picture.source_height
                )
                spec = build_spec(framed, asker, capabilities, default_quality=bot.default_quality)
                stored, _size = await asyncio.to_thread(
                    bot.media_store.save_bytes, ticket.generation_id, picture.png, "png"
                )
                spec = with_hidden(spec, picture=stored, strength=strength)
                await submit_request(
                    bot, spec, asker, reply_with(interaction), ticket=ticket, note=note
                )


async def setup(bot: ReelBot) -> None:
    await bot.add_cog(EncryptCog(bot))
