"""`/frames` (Pikaframes): one clip passing through 2-5 attached pictures, each at its point in
time, with a prompt segment per transition ("dawn | noon | dusk"; `intake.keyframes`).

It follows `/animate` step for step: what the member typed is checked first (the loaded model
can keyframe, 2-5 pictures, the prompt's segments fit them, no `-loop`), then bans, the prompt
policy (on the whole prompt, so every segment) and the caps (`bot.intake.tickets.admitted`)
before any picture is downloaded; each picture is then checked and re-encoded exactly as
/animate's (`intake.media.images` on the bot's `UploadChecks`) and all are stored as the new
id's `k0.png` … before the job exists. The first picture decides the clip's shape.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.cogs.create import SETTING_DESCRIPTIONS, style_choices, with_options
from bot.deferral import Deferral
from bot.intake.requests import Asker, reply_with, submit_request
from bot.intake.tickets import admitted
from core.frames import picture_kind
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
from intake.followups import build_spec, read_text
from intake.keyframes import check_request, frames_note, require_frames, with_frames
from intake.media.images import download
from intake.modes import PICTURE_DECIDES, framed_for_picture

if TYPE_CHECKING:
    from bot.app import ReelBot

DOWNLOAD_TIMEOUT_S = 15.0  # each picture; the interaction is deferred while they download
PICTURE = "PNG, JPEG, WebP or GIF, at least 64×64, up to 10 MB"


class FramesCog(commands.Cog):
    def __init__(self, bot: ReelBot) -> None:
        self.bot = bot

    @app_commands.command(name="frames")
    @app_commands.autocomplete(style=style_choices)
    @app_commands.describe(
        image1=f"The first picture; it sets the clip's shape. {PICTURE}",
        image2="The next picture (the last one, if no more follow)",
        prompt='One part per change between pictures, split by |: "dawn | noon"; or one for all',
        image3="Another picture (optional)",
        image4="Another picture (optional)",
        image5="Another picture (optional)",
        **SETTING_DESCRIPTIONS,
    )
    async def frames(
        self,
        interaction: discord.Interaction[ReelBot],
        image1: discord.Attachment,
        image2: discord.Attachment,
        prompt: app_commands.Range[str, 1, 4000],
        image3: discord.Attachment | None = None,
        image4: discord.Attachment | None = None,
        image5: discord.Attachment | None = None,
        motion: app_commands.Range[int, 0, MAX_MOTION] | None = None,
        camera: Camera | None = None,
        negative: app_commands.Range[str, 1, 1500] | None = None,
        seed: app_commands.Range[int, 0, MAX_SEED] | None = None,
        guidance: app_commands.Range[float, MIN_GUIDANCE, MAX_GUIDANCE] | None = None,
        fps: app_commands.Range[int, MIN_FPS, MAX_FPS] | None = None,
        length: app_commands.Range[float, 1, 60] | None = None,
        hide: bool | None = None,
        style: str | None = None,
        quality: Quality | None = None,
    ) -> None:
        """Make one clip that passes through 2 to 5 pictures."""
        bot = interaction.client
        attached = [a for a in (image1, image2, image3, image4, image5) if a is not None]
        with bot.intake_line.place(interaction) as place:  # among the member's own requests
            capabilities = bot.model_capabilities
            require_frames(capabilities)
            # Everything the member typed is checked before any picture is downloaded.
            parsed = read_text(prompt, capabilities, bot.style_presets)
            options = {
                "motion": motion,
                "camera": camera,
                "negative": negative,
                "seed": seed,
                "guidance": guidance,
                "fps": fps,
                "length": length,
                "style": style,
                "quality": quality,
            }
            parsed = await with_options(
                interaction, parsed, options, hide=hide, decided=PICTURE_DECIDES
            )
            check_request(parsed, len(attached))
            asker = Asker.of(interaction)

            await Deferral.of(interaction).arm()
            # bans, policy and caps before a byte is fetched: the pictures decide only the shape
            draft = build_spec(parsed, asker, capabilities, default_quality=bot.default_quality)
            async with admitted(bot, draft, asker, place=place) as ticket:
                pictures = []
                for attachment in attached:  # each checked as /animate's, before any is kept
                    data = await download(attachment, timeout_s=DOWNLOAD_TIMEOUT_S)
                    pictures.append(await bot.upload_checks.image(data, attachment.filename))
                first = pictures[0]
                framed, note = framed_for_picture(parsed, first.source_width, first.source_height)
                spec = build_spec(framed, asker, capabilities, default_quality=bot.default_quality)
                # The pictures are in the store, under the new id, before the job can exist.
                gid = ticket.generation_id
                stored = []
                for k, picture in enumerate(pictures):
                    kept, _size = await asyncio.to_thread(
                        bot.media_store.save_bytes, gid, picture.png, picture_kind(k)
                    )
                    stored.append(kept)
                spec = with_frames(spec, stored)
                line = frames_note(len(stored))
                note = f"{note}\n{line}" if note else line
                await submit_request(
                    bot, spec, asker, reply_with(interaction), ticket=ticket, note=note
                )


async def setup(bot: ReelBot) -> None:
    await bot.add_cog(FramesCog(bot))
