"""`/create`: a prompt with inline flags, or the same settings as slash options."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.cogs.settings import member_defaults
from bot.deferral import Deferral
from bot.intake.line import Place
from bot.intake.requests import Asker, reply_with, submit_request
from bot.intake.tickets import admitted
from core.flags import ParsedPrompt
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
from core.stylefile import StyleMenu, effect_needs_picture
from gallery.characters import CharacterStore
from intake.characters import REF_IMAGE_KIND, take_references, with_references
from intake.followups import build_spec, merge_settings, read_text
from intake.media.images import download

if TYPE_CHECKING:
    from bot.app import ReelBot

# What each setting option says in Discord's form; /create and /animate share them.
SETTING_DESCRIPTIONS = {
    "motion": "How much moves, 0 (still) to 4 (a lot)",
    "camera": "Camera move",
    "negative": "What to keep out of the clip",
    "seed": "Same seed + same settings = same clip",
    "guidance": "How closely to follow the prompt, 8 to 24",
    "fps": "Frames per second, 8 to 24",
    "length": "Seconds",
    "hide": "Keep it out of the public gallery",
    "style": "A style preset",
    "quality": "fast: fewer steps, sooner; hq: the full schedule (unset: the server's default)",
}
LOOP_DESCRIPTION = "End where it starts, so it plays as a seamless loop (as -loop)"
DOWNLOAD_TIMEOUT_S = 15.0  # ref_image; the interaction is deferred while it downloads
COMMON_RATIOS = ["16:9", "9:16", "1:1", "4:5", "5:4", "3:2", "2:3", "21:9", "4:3", "3:4"]


async def with_options(
    interaction: discord.Interaction[ReelBot],
    parsed: ParsedPrompt,
    options: Mapping[str, object],
    *,
    hide: bool | None,
    decided: tuple[str, ...] = (),
) -> ParsedPrompt:
    """The typed flags with the slash options merged in, then the member's /settings defaults
    (`intake.followups.merge_settings`, as the REST API reads its fields)."""
    bot = interaction.client
    return merge_settings(
        parsed,
        options,
        hide=hide,
        in_guild=interaction.guild_id is not None,
        defaults=await member_defaults(bot, interaction.user),
        capabilities=bot.model_capabilities,
        styles=bot.style_presets,
        decided=decided,
    )


async def style_choices(
    interaction: discord.Interaction[ReelBot], current: str
) -> list[app_commands.Choice[str]]:
    """The `style` option's autocomplete, for every command that has one."""
    styles = interaction.client.style_presets
    # effects are for pictures (/effect): a prompt's list is the styles alone
    names = styles.style_names() if isinstance(styles, StyleMenu) else sorted(styles)
    return [app_commands.Choice(name=n, value=n) for n in names if current.lower() in n][:25]


@contextlib.asynccontextmanager
async def in_line(
    interaction: discord.Interaction[ReelBot], *, downloads: bool
) -> AsyncIterator[Place]:
    """A request's place: with a picture to fetch, behind its member's own requests only (as
    /animate's, so a slow download holds nobody else up); else a turn among all requests."""
    line = interaction.client.intake_line
    if downloads:
        with line.place(interaction) as place:
            yield place
    else:
        async with line.turn(interaction) as place:
            yield place


class CreateCog(commands.Cog):
    def __init__(self, bot: ReelBot) -> None:
        self.bot = bot

    @app_commands.command(name="create")
    @app_commands.autocomplete(style=style_choices)
    @app_commands.describe(
        prompt="What to see; flags like -motion 3 -camera pan left -ar 9:16 may follow",
        aspect_ratio="Width:height, like 16:9, 9:16 or 1:1",
        loop=LOOP_DESCRIPTION,
        ref_image="A picture the clip must show, as -ref does (models taking reference pictures)",
        **SETTING_DESCRIPTIONS,
    )
    async def create(
        self,
        interaction: discord.Interaction[ReelBot],
        prompt: app_commands.Range[str, 1, 4000],
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
        loop: bool | None = None,
        ref_image: discord.Attachment | None = None,
    ) -> None:
        """Make a short video clip from a prompt."""
        # first come, first served: among all requests, and among the member's own for caps
        async with in_line(interaction, downloads=ref_image is not None) as place:
            bot = interaction.client
            capabilities = bot.model_capabilities
            parsed = read_text(prompt, capabilities, bot.style_presets)
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
                "loop": loop,
            }
            parsed = await with_options(interaction, parsed, options, hide=hide)
            asker = Asker.of(interaction)
            # -ref NAME: a family that takes reference pictures, the names screened, looked up
            parsed, capabilities, pictures = await take_references(
                parsed,
                main=capabilities,
                member_id=asker.owner_id,
                guild_id=asker.guild_id,
                store=CharacterStore(bot.store.engine),
                policy=bot.prompt_policy,
                fleet=bot.submitter.fleet,
                attached=int(ref_image is not None),
            )
            spec = build_spec(parsed, asker, capabilities, default_quality=bot.default_quality)
            spec = with_references(spec, pictures)
            effect_needs_picture(spec)  # `-style squish`, an effect: /effect or /animate
            if ref_image is None:
                await submit_request(bot, spec, asker, reply_with(interaction), place=place)
                return
            await Deferral.of(interaction).arm()
            # bans, policy and caps before the picture is fetched, as /animate's
            async with admitted(bot, spec, asker, place=place) as ticket:
                data = await download(ref_image, timeout_s=DOWNLOAD_TIMEOUT_S)
                picture = await bot.upload_checks.image(data, ref_image.filename)
                kept, _size = await asyncio.to_thread(
                    bot.media_store.save_bytes, ticket.generation_id, picture.png, REF_IMAGE_KIND
                )
                spec = with_references(spec, (*spec.reference_media, kept))
                await submit_request(bot, spec, asker, reply_with(interaction), ticket=ticket)

    @create.autocomplete("aspect_ratio")
    async def _ratios(
        self, interaction: discord.Interaction[ReelBot], current: str
    ) -> list[app_commands.Choice[str]]:
        return [
            app_commands.Choice(name=r, value=r) for r in COMMON_RATIOS if r.startswith(current)
        ]


async def setup(bot: ReelBot) -> None:
    await bot.add_cog(CreateCog(bot))
