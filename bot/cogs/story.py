"""`/story`: 2-8 shots split by `|`, each continuing from the last one's last frame, delivered
as one clip (`intake.stories`; the worker's `worker.story` renders them in turn).

The shots are checked first (the loaded model tells stories, 2-8 of them, none empty, no
`-loop`), then bans, the prompt policy (the whole prompt, so every shot) and the caps
(`bot.intake.tickets.admitted`: one place in line, one clip per shot today) before a picture
is downloaded; a picture is checked and re-encoded as /animate's and becomes the first shot's
start. Options are /create's, for every shot.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.cogs.create import COMMON_RATIOS, SETTING_DESCRIPTIONS, style_choices, with_options
from bot.deferral import Deferral
from bot.delivery.story_views import RetakeButton, ShotSelect
from bot.intake.requests import Asker, reply_with, submit_request
from bot.intake.tickets import admitted
from core.spec import (
    MAX_FPS,
    MAX_GUIDANCE,
    MAX_MOTION,
    MAX_SEED,
    MIN_FPS,
    MIN_GUIDANCE,
    Camera,
    Quality,
)
from intake.followups import build_spec
from intake.media.images import download
from intake.modes import framed_for_picture
from intake.stories import as_story, check_story, read_story, require_story, story_note

if TYPE_CHECKING:
    from bot.app import ReelBot

DOWNLOAD_TIMEOUT_S = 15.0  # the start picture; the interaction is deferred while it downloads
START_KIND = "png"  # the start picture is stored as /animate's is


class StoryCog(commands.Cog):
    def __init__(self, bot: ReelBot) -> None:
        self.bot = bot

    async def cog_load(self) -> None:
        self.bot.add_dynamic_items(RetakeButton, ShotSelect)  # 🎬 Retake, after restarts too

    @app_commands.command(name="story")
    @app_commands.autocomplete(style=style_choices)
    @app_commands.describe(
        prompt='2 to 8 shots split by |: "a knight rides out | meets a dragon"; flags at the end',
        image="A picture the first shot starts from (PNG, JPEG, WebP or GIF, up to 10 MB)",
        aspect_ratio="Width:height, like 16:9, 9:16 or 1:1",
        **{**SETTING_DESCRIPTIONS, "length": "Seconds for each shot"},
    )
    async def story(
        self,
        interaction: discord.Interaction[ReelBot],
        prompt: app_commands.Range[str, 1, 4000],
        image: discord.Attachment | None = None,
        motion: app_commands.Range[int, 0, MAX_MOTION] | None = None,
        camera: Camera | None = None,
        negative: app_commands.Range[str, 1, 1500] | None = None,
        aspect_ratio: app_commands.Range[str, 3, 11] | None = None,
        seed: app_commands.Range[int, 0, MAX_SEED] | None = None,
        guidance: app_commands.Range[float, MIN_GUIDANCE, MAX_GUIDANCE] | None = None,
        fps: app_commands.Range[int, MIN_FPS, MAX_FPS] | None = None,
        length: app_commands.Range[float, 1, 60] | None = None,
        hide: bool | None = None,
        style: str | None = None,
        quality: Quality | None = None,
    ) -> None:
        """Tell a story in 2 to 8 shots, each continuing from the last, as one clip."""
        bot = interaction.client
        with bot.intake_line.place(interaction) as place:  # among the member's own requests
            capabilities = bot.model_capabilities
            require_story(capabilities)
            told = read_story(prompt, capabilities, bot.style_presets)  # each shot's own flags
            parsed = told.story
            options = {
                "motion": motion,
                "camera": camera,
                "negative": negative,
                "aspect_ratio": aspect_ratio,
                "seed": seed,
                "guidance": guidance,
                "fps": fps,
                "length": length,
                "style": style,
                "quality": quality,
            }
            parsed = await with_options(interaction, parsed, options, hide=hide)
            check_story(parsed)
            asker = Asker.of(interaction)
            quality_default = bot.default_quality
            shot = build_spec(parsed, asker, capabilities, default_quality=quality_default)
            spec = as_story(shot, own=told.shots)  # one place in line, a clip a shot today
            note = story_note(spec)
            if image is None:
                await submit_request(
                    bot, spec, asker, reply_with(interaction), place=place, note=note
                )
                return
            await Deferral.of(interaction).arm()
            # bans, policy and caps before a byte is fetched: the picture decides only the shape
            async with admitted(bot, spec, asker, place=place) as ticket:
                data = await download(image, timeout_s=DOWNLOAD_TIMEOUT_S)
                picture = await bot.upload_checks.image(data, image.filename)
                framed, framing = framed_for_picture(
                    parsed, picture.source_width, picture.source_height
                )
                shot = build_spec(framed, asker, capabilities, default_quality=quality_default)
                shot = shot.model_copy(update={"seed": spec.seed})  # one seed drawn, not two
                kept, _size = await asyncio.to_thread(
                    bot.media_store.save_bytes, ticket.generation_id, picture.png, START_KIND
                )
                spec = as_story(shot, kept, own=told.shots)
                note = f"{framing}\n{note}" if framing else note
                await submit_request(
                    bot, spec, asker, reply_with(interaction), ticket=ticket, note=note
                )

    @story.autocomplete("aspect_ratio")
    async def _ratios(
        self, interaction: discord.Interaction[ReelBot], current: str
    ) -> list[app_commands.Choice[str]]:
        return [
            app_commands.Choice(name=r, value=r) for r in COMMON_RATIOS if r.startswith(current)
        ]


async def setup(bot: ReelBot) -> None:
    await bot.add_cog(StoryCog(bot))
