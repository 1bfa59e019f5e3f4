"""`/speak` (lip sync): an attached face or character speaks an attached voice or a typed line.

It follows `/animate` step for step (`intake.speak`): what the member typed is checked first
(a family of the fleet makes pictures speak, exactly one of `audio` and `text`, the line's
length, no `-loop` or `-sound`), then bans, the prompt policy (the typed line is read like a
prompt) and the caps before any file is downloaded; the picture is then checked as /animate's
and the voice by its content (`intake.media.voices`: WAV, MP3, OGG/Opus or M4A, decoded within
bounds, at most 20 s and 10 MB), each failure a private message naming what was wrong and what
is allowed. Both are stored under the new id (`png`, `voice.wav`) before the job exists.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.cogs.create import style_choices, with_options
from bot.deferral import Deferral
from bot.intake.requests import Asker, reply_with, submit_request
from bot.intake.tickets import admitted
from core.speak import MAX_SPEAK_CHARS, MAX_VOICE_BYTES, VOICE_KIND, VOICE_RULES
from core.spec import MAX_SEED, Quality
from intake.followups import build_spec, read_text
from intake.media.images import download
from intake.media.voices import ADVICE, SUBJECT
from intake.modes import PICTURE_DECIDES, framed_for_picture, serving_family
from intake.speak import (
    check_request,
    refuse_flags,
    speak_note,
    speak_prompt,
    text_length,
    typed_draft,
    voice_length,
    with_speech,
)

if TYPE_CHECKING:
    from bot.app import ReelBot

DOWNLOAD_TIMEOUT_S = 15.0  # each file; the interaction is deferred while they download


class SpeakCog(commands.Cog):
    def __init__(self, bot: ReelBot) -> None:
        self.bot = bot

    @app_commands.command(name="speak")
    @app_commands.autocomplete(style=style_choices)
    @app_commands.describe(
        image="The face or character to speak: PNG, JPEG, WebP or GIF, at least 64×64, up to 10 MB",
        audio=f"The voice to speak: {VOICE_RULES} (or give text instead)",
        text=f"A line to say in a generated voice, up to {MAX_SPEAK_CHARS} characters",
        prompt="What the clip shows besides (optional); flags like -seed 5 may follow",
        seed="The same seed, the same clip",
        hide="Keep the clip out of the public gallery",
        style="A look for the clip",
        quality="fast or hq",
    )
    async def speak(
        self,
        interaction: discord.Interaction[ReelBot],
        image: discord.Attachment,
        audio: discord.Attachment | None = None,
        text: app_commands.Range[str, 1, 2000] | None = None,
        prompt: app_commands.Range[str, 1, 4000] | None = None,
        seed: app_commands.Range[int, 0, MAX_SEED] | None = None,
        hide: bool | None = None,
        style: str | None = None,
        quality: Quality | None = None,
    ) -> None:
        """Make a picture speak a voice or a line, with the voice as its sound."""
        bot = interaction.client
        with bot.intake_line.place(interaction) as place:  # among the member's own requests
            line = check_request(audio is not None, text)
            capabilities = await serving_family(
                bot.submitter.fleet, bot.model_capabilities, "speak", "make pictures speak"
            )
            # Everything the member typed is checked before any file is downloaded.
            parsed = read_text(speak_prompt(prompt), capabilities, bot.style_presets)
            options = {"seed": seed, "style": style, "quality": quality}
            parsed = await with_options(
                interaction, parsed, options, hide=hide, decided=PICTURE_DECIDES
            )
            refuse_flags(parsed)
            asker = Asker.of(interaction)

            await Deferral.of(interaction).arm()
            # bans, policy (the typed line too) and caps before a byte is fetched
            draft = build_spec(
                text_length(parsed, capabilities),
                asker,
                capabilities,
                default_quality=bot.default_quality,
            )
            if line:
                draft = typed_draft(draft, line)
            async with admitted(bot, draft, asker, place=place) as ticket:
                data = await download(image, timeout_s=DOWNLOAD_TIMEOUT_S)
                picture = await bot.upload_checks.image(data, image.filename)
                voice = None
                if audio is not None:  # judged by its content, never its name or type
                    sound = await download(
                        audio,
                        max_bytes=MAX_VOICE_BYTES,
                        timeout_s=DOWNLOAD_TIMEOUT_S,
                        subject=SUBJECT,
                        advice=ADVICE,
                    )
                    voice = await bot.upload_checks.voice(sound, audio.filename)
                framed, note = framed_for_picture(
                    parsed, picture.source_width, picture.source_height
                )
                if voice is not None:
                    framed = voice_length(framed, voice.seconds, capabilities)
                else:
                    framed = text_length(framed, capabilities)
                spec = build_spec(framed, asker, capabilities, default_quality=bot.default_quality)
                spec = spec.model_copy(update={"seed": draft.seed})
                # The picture and the voice are in the store before the job can exist.
                gid = ticket.generation_id
                stored, _size = await asyncio.to_thread(
                    bot.media_store.save_bytes, gid, picture.png, "png"
                )
                kept = None
                if voice is not None:
                    kept, _size = await asyncio.to_thread(
                        bot.media_store.save_bytes, gid, voice.wav, VOICE_KIND
                    )
                spec = with_speech(spec, stored, kept, line)
                said = speak_note(voice.seconds if voice is not None else None, line)
                note = f"{note}\n{said}" if note else said
                await submit_request(
                    bot, spec, asker, reply_with(interaction), ticket=ticket, note=note
                )


async def setup(bot: ReelBot) -> None:
    await bot.add_cog(SpeakCog(bot))
