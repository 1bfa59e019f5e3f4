"""`/speak` (lip sync): an attached face or character speaks an attached voice or a typed line.

It follows `/animate` step for step (`intake.speak`): what the member typed is checked first
(a family of the fleet makes pictures speak, exactly one of `audio` and `text`, the line's
length, no `-loop` or `-sound`), then bans, the prompt policy (the typed line is read like a
prompt) and the caps before any file is downloaded; the picture is then checked as /animate's
and the voice by its content (`intake.media.voices`: WAV, MP3, OGG/Opus or M4A, decoded within
bounds, at most 20 s and 10 MB), each failure a private message naming what was wrong and what
is allowed. Both are stored under the new id (`png`, `voice.wav`) before the job exists.

`/speak clip:<id or link> (audio:… | text:…)` makes one of the clips here speak instead of a
picture (`intake.speakclip`): the clip is named and checked as /add's (`intake.edits`), the
result a child of it owned by whoever asked, on a family that makes clips speak (mode
"speak_clip"), through the same bans, policy, caps and fair queue; only the voice is fetched.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.cogs.create import style_choices, with_options
from bot.cogs.edit import clip_of
from bot.deferral import Deferral
from bot.delivery.edit_views import moderates
from bot.intake.requests import Asker, reply_with, submit_request
from bot.intake.tickets import admitted
from core.errors import UserFacingError
from core.speak import MAX_SPEAK_CHARS, MAX_VOICE_BYTES, SPEAK_CLIP, VOICE_KIND, VOICE_RULES
from core.spec import MAX_SEED, Quality, RenderSpec
from intake.edits import check_parent
from intake.fleet import DOING
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
from intake.speakclip import speak_clip_note, speak_clip_spec

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
        clip="Or one of the clips here to make speak: its id, gallery link or message link",
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
        image: discord.Attachment | None = None,
        audio: discord.Attachment | None = None,
        text: app_commands.Range[str, 1, 2000] | None = None,
        prompt: app_commands.Range[str, 1, 4000] | None = None,
        seed: app_commands.Range[int, 0, MAX_SEED] | None = None,
        hide: bool | None = None,
        style: str | None = None,
        quality: Quality | None = None,
        clip: app_commands.Range[str, 1, 300] | None = None,
    ) -> None:
        """Make a picture or a clip speak a voice or a line, with the voice as its sound."""
        bot = interaction.client
        if (image is None) == (clip is None):
            raise UserFacingError(
                "Give /speak either a picture (`image`) or one of the clips here (`clip`: its "
                "id, gallery link or message link), not both"
                + (" and not neither." if image is None else ".")
            )
        if clip is not None:
            if style is not None:
                raise UserFacingError(
                    "A clip keeps its own look when it speaks, so `style` can't be used with "
                    "`clip`. Remove it."
                )
            options = SpeakClipOptions(prompt, seed, hide, quality)
            await speak_on_clip(interaction, clip, audio, text, options)
            return
        assert image is not None
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


@dataclass(frozen=True, slots=True)
class SpeakClipOptions:
    """What else the member typed with `clip`."""

    prompt: str | None
    seed: int | None
    hide: bool | None
    quality: Quality | None


async def speak_on_clip(
    interaction: discord.Interaction[ReelBot],
    clip: str,
    audio: discord.Attachment | None,
    text: str | None,
    options: SpeakClipOptions,
) -> None:
    """/speak clip:…: the clip and the request checked, then bans, policy and caps, and only
    then the voice fetched, checked and stored under the new id before the job exists."""
    bot = interaction.client
    with bot.intake_line.place(interaction) as place:
        line = check_request(audio is not None, text)
        gid = await clip_of(bot, clip)
        asker = Asker.of(interaction)
        row = await asyncio.to_thread(bot.store.get, gid)
        media = check_parent(row, asker.owner_id, moderates=moderates(interaction))
        assert row is not None  # check_parent refused a missing clip
        parent = RenderSpec.model_validate(row.spec)
        caps = await serving_family(
            bot.submitter.fleet, bot.model_capabilities, SPEAK_CLIP, DOING[SPEAK_CLIP]
        )
        quality = options.quality or bot.default_quality

        def spec_for(voice: str | None, seconds: float | None) -> RenderSpec:
            return speak_clip_spec(
                parent,
                row.id,
                asker,
                caps,
                parent_media=media,
                prompt=options.prompt,
                voice=voice,
                voice_seconds=seconds,
                line=line,
                hide=options.hide,
                seed=options.seed,
                default_quality=quality,
            )

        # screened as it will be rendered; a voice's place is named until it is stored
        draft = spec_for(stand_in_voice(media) if audio is not None else None, None)
        await Deferral.of(interaction).arm()
        async with admitted(bot, draft, asker, place=place) as ticket:
            spec, seconds = draft, None
            if audio is not None:  # judged by its content, never its name or type
                sound = await download(
                    audio,
                    max_bytes=MAX_VOICE_BYTES,
                    timeout_s=DOWNLOAD_TIMEOUT_S,
                    subject=SUBJECT,
                    advice=ADVICE,
                )
                voice = await bot.upload_checks.voice(sound, audio.filename)
                seconds = voice.seconds
                spec_for(stand_in_voice(media), seconds)  # too long for the clip: before storing
                kept, _size = await asyncio.to_thread(
                    bot.media_store.save_bytes, ticket.generation_id, voice.wav, VOICE_KIND
                )
                spec = spec_for(kept, seconds).model_copy(update={"seed": draft.seed})
            note = speak_clip_note(parent, spec, seconds)
            answer = reply_with(interaction)
            await submit_request(bot, spec, asker, answer, ticket=ticket, note=note)


def stand_in_voice(media: str) -> str:
    """A name in the voice's place for screening (never stored, never read)."""
    return f"{media.removesuffix('.mp4')}.{VOICE_KIND}"


async def setup(bot: ReelBot) -> None:
    await bot.add_cog(SpeakCog(bot))
