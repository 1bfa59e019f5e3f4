"""`/effect image:<picture> effect:<name>`: a one-click effect (squish, melt, …) on a picture.

Effects are the styles file's `[effects.NAME]` (`core.stylefile`): a prompt template and, per
family, an image-to-video LoRA the worker loads for the clip. The clip is made exactly as
`/animate` makes one: the same checks of the picture (`intake.media`, on the bot's
`UploadChecks`), stored under the new id before the job exists; bans, the prompt policy and the
member's caps first, in arrival order, every refusal private and before the download. The
prompt is the effect's template with the member's `subject` (what is in the picture), and the
clip carries the effect as its style (`-style NAME`), so a reroll or a remix is the same effect
again. ✨ Effects under a result made from a picture (`bot.delivery.views`) makes the same
request from the result's picture (`bot.intake.effects`).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.cogs.create import SETTING_DESCRIPTIONS, with_options
from bot.deferral import Deferral
from bot.delivery.views import EffectSelect
from bot.intake.effects import effect_prompt, effects_of
from bot.intake.requests import Asker, reply_with, submit_request
from bot.intake.tickets import admitted
from core.spec import MAX_SEED, Quality
from intake.followups import build_spec
from intake.media.images import download
from intake.modes import PICTURE_DECIDES, framed_for_picture, serving_family

if TYPE_CHECKING:
    from bot.app import ReelBot

DOWNLOAD_TIMEOUT_S = 15.0


async def effect_choices(
    interaction: discord.Interaction[ReelBot], current: str
) -> list[app_commands.Choice[str]]:
    """The `effect` option's autocomplete: this server's effects."""
    effects = effects_of(interaction.client.style_presets)
    return [
        app_commands.Choice(name=f"{n} — {e.description}"[:100] if e.description else n, value=n)
        for n, e in sorted(effects.items())
        if current.lower() in n
    ][:25]


class EffectCog(commands.Cog):
    def __init__(self, bot: ReelBot) -> None:
        self.bot = bot

    async def cog_load(self) -> None:
        self.bot.add_dynamic_items(EffectSelect)  # ✨ Effects under results, after restarts too

    async def cog_unload(self) -> None:
        self.bot.remove_dynamic_items(EffectSelect)

    @app_commands.command(name="effect")
    @app_commands.autocomplete(effect=effect_choices)
    @app_commands.describe(
        image="The picture: PNG, JPEG, WebP or GIF, at least 64×64, up to 10 MB",
        effect="What happens to it: one of this server's effects (/styles lists them)",
        subject="What is in the picture, like 'a red car' (optional)",
        seed=SETTING_DESCRIPTIONS["seed"],
        hide=SETTING_DESCRIPTIONS["hide"],
        quality=SETTING_DESCRIPTIONS["quality"],
    )
    async def effect(
        self,
        interaction: discord.Interaction[ReelBot],
        image: discord.Attachment,
        effect: app_commands.Range[str, 1, 32],
        subject: app_commands.Range[str, 1, 300] | None = None,
        seed: app_commands.Range[int, 0, MAX_SEED] | None = None,
        hide: bool | None = None,
        quality: Quality | None = None,
    ) -> None:
        """Apply a one-click effect (squish, melt, …) to a picture, as a short clip."""
        bot = interaction.client
        with bot.intake_line.place(interaction) as place:  # among the member's own requests
            capabilities = await serving_family(
                bot.submitter.fleet, bot.model_capabilities, "i2v", "animate pictures"
            )
            # What the member chose is checked before the picture is downloaded.
            parsed = effect_prompt(bot.style_presets, effect, subject or "", capabilities.name)
            options = {"seed": seed, "quality": quality}
            parsed = await with_options(
                interaction, parsed, options, hide=hide, decided=PICTURE_DECIDES
            )
            asker = Asker.of(interaction)
            await Deferral.of(interaction).arm()
            # bans, policy and caps before a byte is fetched: the picture decides only the shape
            draft = build_spec(parsed, asker, capabilities, default_quality=bot.default_quality)
            async with admitted(bot, draft, asker, place=place) as ticket:
                data = await download(image, timeout_s=DOWNLOAD_TIMEOUT_S)
                picture = await bot.upload_checks.image(data, image.filename)
                framed, note = framed_for_picture(
                    parsed, picture.source_width, picture.source_height
                )
                spec = build_spec(framed, asker, capabilities, default_quality=bot.default_quality)
                gid = ticket.generation_id
                stored, _size = await asyncio.to_thread(
                    bot.media_store.save_bytes, gid, picture.png, "png"
                )
                spec = spec.model_copy(update={"mode": "i2v", "input_media": (stored,)})
                await submit_request(
                    bot, spec, asker, reply_with(interaction), ticket=ticket, note=note
                )


async def setup(bot: ReelBot) -> None:
    await bot.add_cog(EffectCog(bot))
