"""`/animate`: bring an attached picture to life, with an optional prompt and the usual flags.

The picture decides the clip's shape: its aspect ratio is snapped to the nearest common one
(`intake.modes`, shared with the REST API) and the worker center-crops the picture to it,
unless the member asks for another with `-ar` in the prompt (a `/settings` default `-ar` does
not apply here: it was meant for prompts, and would crop every picture). Other `/settings` defaults
apply as they do for `/create`. With no prompt the model is told "animate this image"
(`DEFAULT_PROMPT`); a prompt of flags alone (`-motion 3 -camera zoom in`) gets the same text in
front, since a picture already says what the clip shows.

The member's picture is checked and re-encoded (`intake.media.images`, on the bot's
`UploadChecks`) and stored under the new generation's id before the job exists, so a worker can
never pick up a job without its image. What the member typed is checked first, then their bans,
the prompt policy and their place under the caps (`bot.intake.tickets.admitted`, in the order
their requests arrived): every refusal is private and comes before the download. Discord wants
a first answer within 3 s: a `Deferral` is armed before the admission, so a slow fetch or decode
shows "thinking…" in time; a refusal after that is still private (`bot.replies`).

`end_image` is a second picture the clip ends on (`intake.endings`): checked exactly as the
first, refused up front where the loaded model can't end on a picture or with `-loop`, and
stored beside it (`end.png`) before the job exists.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.cogs.create import LOOP_DESCRIPTION, SETTING_DESCRIPTIONS, style_choices, with_options
from bot.deferral import Deferral
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
from intake.endings import END_KIND, end_note, refuse_loop_with_end, require_end_frame, with_end
from intake.followups import build_spec, read_text
from intake.media.images import download
from intake.modes import PICTURE_DECIDES, animate_prompt, framed_for_picture, serving_family

if TYPE_CHECKING:
    from bot.app import ReelBot

DOWNLOAD_TIMEOUT_S = 15.0  # the interaction is deferred (if need be) while it downloads


class AnimateCog(commands.Cog):
    def __init__(self, bot: ReelBot) -> None:
        self.bot = bot

    @app_commands.command(name="animate")
    @app_commands.autocomplete(style=style_choices)
    @app_commands.describe(
        image="The picture to animate: PNG, JPEG, WebP or GIF, at least 64×64, up to 10 MB",
        prompt="What should happen (optional); flags like -motion 3 -camera zoom in may follow",
        end_image="A picture for the clip to end on, checked like the first (optional)",
        loop=LOOP_DESCRIPTION,
        **SETTING_DESCRIPTIONS,
    )
    async def animate(
        self,
        interaction: discord.Interaction[ReelBot],
        image: discord.Attachment,
        prompt: app_commands.Range[str, 1, 4000] | None = None,
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
        loop: bool | None = None,
        end_image: discord.Attachment | None = None,
    ) -> None:
        """Make a short video clip from a picture."""
        bot = interaction.client
        with bot.intake_line.place(interaction) as place:  # among the member's own requests
            capabilities = await serving_family(
                bot.submitter.fleet, bot.model_capabilities, "i2v", "animate pictures"
            )
            if end_image is not None:
                require_end_frame(capabilities.name, capabilities.end_frame)
            # Everything the member typed is checked before the picture is downloaded.
            parsed = read_text(animate_prompt(prompt), capabilities, bot.style_presets)
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
                "loop": loop,
            }
            parsed = await with_options(
                interaction, parsed, options, hide=hide, decided=PICTURE_DECIDES
            )
            if end_image is not None:
                refuse_loop_with_end(parsed)
            asker = Asker.of(interaction)

            # "thinking…" if the admission or the picture is slow, or anything after them is:
            # the timer runs until the answer (submit_request's own arming finds it armed)
            await Deferral.of(interaction).arm()
            # bans, policy and caps before a byte is fetched: the picture decides only the shape
            draft = build_spec(parsed, asker, capabilities, default_quality=bot.default_quality)
            async with admitted(bot, draft, asker, place=place) as ticket:
                data = await download(image, timeout_s=DOWNLOAD_TIMEOUT_S)
                picture = await bot.upload_checks.image(data, image.filename)
                end = None
                if end_image is not None:  # checked exactly as the first, before either is kept
                    data = await download(end_image, timeout_s=DOWNLOAD_TIMEOUT_S)
                    end = await bot.upload_checks.image(data, end_image.filename)
                framed, note = framed_for_picture(
                    parsed, picture.source_width, picture.source_height
                )
                spec = build_spec(framed, asker, capabilities, default_quality=bot.default_quality)
                # The pictures are in the store, under the new id, before the job can exist.
                gid = ticket.generation_id
                stored, _size = await asyncio.to_thread(
                    bot.media_store.save_bytes, gid, picture.png, "png"
                )
                spec = spec.model_copy(update={"mode": "i2v", "input_media": (stored,)})
                if end is not None:
                    kept, _size = await asyncio.to_thread(
                        bot.media_store.save_bytes, gid, end.png, END_KIND
                    )
                    spec = with_end(spec, stored, kept)
                    line = end_note(end.source_width, end.source_height, spec.aspect_ratio)
                    note = f"{note}\n{line}" if note else line
                await submit_request(
                    bot, spec, asker, reply_with(interaction), ticket=ticket, note=note
                )


async def setup(bot: ReelBot) -> None:
    await bot.add_cog(AnimateCog(bot))
