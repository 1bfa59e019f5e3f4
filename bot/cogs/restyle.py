"""`/restyle`: an attached video comes back with a new look: same layout and motion.

The prompt says what the clip should look like now ("a watercolor painting", "claymation");
the usual flags and options apply, read by the same parser as `/create`, except `-camera` and
`-motion`, which would fight the video's own movement: they are refused, and `/settings`
defaults for them, `-ar` and `-len` do not apply here.

The video decides the clip's shape and length: its aspect ratio is snapped to the nearest
common one and center-cropped to it (unless the member asks for another with `-ar`), and the
clip is as long as the video, capped by the model's maximum or by `-len`; the queued message
says so when the clip is shorter than the video.

What the member typed and the declared size are checked first, then the member's bans, the
prompt policy and their place under the caps (`bot.intake.tickets.admitted`, in the order their
requests arrived): every refusal is private and comes before the download. A `Deferral` is armed
before the admission, so a slow 25 MB download shows "thinking…" within Discord's 3 s, and a
refusal after that is still private (`bot.replies`). The video is checked (`intake.media.videos`,
on the bot's `UploadChecks`, bounded in cost) and stored under the new generation's id before
the job exists, so a worker can never pick up a job without its video; no path from anything the
member typed is ever used.
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
from core.spec import (
    MAX_FPS,
    MAX_GUIDANCE,
    MAX_SEED,
    MIN_FPS,
    MIN_GUIDANCE,
    Quality,
    RenderSpec,
)
from core.stylefile import effect_needs_picture
from intake.followups import build_spec, read_text
from intake.media.videos import (
    check_declared_video_size,
    download_video,
)
from intake.modes import VIDEO_DECIDES, fitted_to_video, refuse_movement, serving_family

if TYPE_CHECKING:
    from bot.app import ReelBot


class RestyleCog(commands.Cog):
    def __init__(self, bot: ReelBot) -> None:
        self.bot = bot

    @app_commands.command(name="restyle")
    @app_commands.autocomplete(style=style_choices)
    @app_commands.describe(
        video="The video to restyle: MP4, MOV, WebM or MKV, at least 1 s, up to 25 MB",
        prompt="The new look, like 'a watercolor painting'; flags like -seed 7 may follow",
        **{k: v for k, v in SETTING_DESCRIPTIONS.items() if k not in ("motion", "camera")}
        | {"length": "Restyle only the first this many seconds (default: all of it)"},
    )
    async def restyle(
        self,
        interaction: discord.Interaction[ReelBot],
        video: discord.Attachment,
        prompt: app_commands.Range[str, 1, 4000],
        negative: app_commands.Range[str, 1, 1500] | None = None,
        seed: app_commands.Range[int, 0, MAX_SEED] | None = None,
        guidance: app_commands.Range[float, MIN_GUIDANCE, MAX_GUIDANCE] | None = None,
        fps: app_commands.Range[int, MIN_FPS, MAX_FPS] | None = None,
        length: app_commands.Range[float, 1, 60] | None = None,
        hide: bool | None = None,
        style: str | None = None,
        quality: Quality | None = None,
    ) -> None:
        """Give a short video a new look, keeping its layout and motion."""
        bot = interaction.client
        with bot.intake_line.place(interaction) as place:  # among the member's own requests
            capabilities = await serving_family(
                bot.submitter.fleet, bot.model_capabilities, "v2v", "restyle videos"
            )
            # Everything the member typed is checked before the video is downloaded.
            parsed = read_text(prompt, capabilities, bot.style_presets)
            refuse_movement(parsed)
            options = {
                "negative": negative,
                "seed": seed,
                "guidance": guidance,
                "fps": fps,
                "length": length,
                "style": style,
                "quality": quality,
            }
            parsed = await with_options(
                interaction, parsed, options, hide=hide, decided=VIDEO_DECIDES
            )
            asker = Asker.of(interaction)
            check_declared_video_size(video.filename, video.size)  # before "thinking…": no flash

            # "thinking…" in time if the admission or the download is slow, or anything after
            # them is: the timer runs until the answer (submit_request's arming finds it armed)
            await Deferral.of(interaction).arm()
            # bans, policy and caps before a byte is fetched: the video decides only the shape
            draft = build_spec(parsed, asker, capabilities, default_quality=bot.default_quality)
            effect_needs_picture(draft)  # effects animate pictures, never a video
            async with admitted(bot, draft, asker, place=place) as ticket:
                data = await download_video(video)
                checked = await bot.upload_checks.video(data, video.filename)
                spec, frames, note = fitted_to_video(
                    parsed, checked.info, asker, capabilities, bot.default_quality
                )
                # The video is in the store, under the new id, before the job can exist.
                gid = ticket.generation_id
                stored, _size = await asyncio.to_thread(
                    bot.media_store.save_bytes, gid, data, checked.kind
                )
                video_in = {"mode": "v2v", "input_media": (stored,), "num_frames": frames}
                spec = RenderSpec.model_validate({**spec.model_dump(), **video_in})
                await submit_request(
                    bot, spec, asker, reply_with(interaction), ticket=ticket, note=note
                )


async def setup(bot: ReelBot) -> None:
    await bot.add_cog(RestyleCog(bot))
