"""`/styles`: what this server offers for `-style` and `/effect`, answered privately.

The list is the family's menu (`core.stylefile.StyleMenu`, from the styles file the bot read at
start-up): words-only presets, LoRA styles, effects, and the file's entries only another model
has, so a member learns before asking why `-style anime` would be refused. A style whose preview
clip the operator made (`reelbot styles preview`; `gallery.previews`) links it.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from core.spec import StylePreset
from core.stylefile import StyleMenu
from gallery.previews import latest_previews
from gallery.web import clip_url

if TYPE_CHECKING:
    from collections.abc import Mapping

    from bot.app import ReelBot

MAX_LINE = 110
MAX_MESSAGE = 1900  # Discord's limit is 2,000 characters


def styles_text(
    styles: Mapping[str, StylePreset],
    family: str,
    previews: Mapping[str, str] | None = None,
    public_url: str = "",
) -> str:
    """The `/styles` answer: one line per style and effect, short enough for one message;
    `previews` (style name → clip id) adds a link to each style's preview clip."""
    menu = styles if isinstance(styles, StyleMenu) else StyleMenu(family, styles)
    lines = [f"**Styles** (`-style NAME` on /create, /animate, /restyle; model `{family}`):"]
    for name in menu.style_names():
        preset = menu[name]
        about = menu.descriptions.get(name) or preset.prompt_suffix
        lora = " ✨ LoRA" if preset.adapter else ""
        line = _line(f"• `{name}`{lora} — {about}")
        if previews and name in previews:  # <…>: a link, without Discord's embed
            line += f" · [preview](<{clip_url(public_url, previews[name])}>)"
        lines.append(line)
    if menu.effects:
        lines.append("**Effects** (`/effect`, or ✨ Effects under a clip made from a picture):")
        for name, effect in sorted(menu.effects.items()):
            lines.append(_line(f"• `{name}` — {effect.description or effect.prompt}"))
    if menu.lacked:
        lines.append("**With other models only:**")
        for name, lacked in sorted(menu.lacked.items()):
            lines.append(_line(f"• `{name}` ({lacked.kind}): {', '.join(lacked.families)}"))
    text = "\n".join(lines)
    if len(text) > MAX_MESSAGE:
        text = text[: MAX_MESSAGE - 1].rsplit("\n", 1)[0] + "\n…"
    return text


def _line(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= MAX_LINE else flat[: MAX_LINE - 1] + "…"


class StylesCog(commands.Cog):
    def __init__(self, bot: ReelBot) -> None:
        self.bot = bot

    @app_commands.command(name="styles")
    async def styles(self, interaction: discord.Interaction[ReelBot]) -> None:
        """List the styles and effects this server offers."""
        bot = interaction.client
        family = bot.model_capabilities.name
        previews = await asyncio.to_thread(latest_previews, bot.store.engine, family)
        text = styles_text(bot.style_presets, family, previews, bot.deliverer.public_url)
        await interaction.response.send_message(
            text, ephemeral=True, allowed_mentions=discord.AllowedMentions.none()
        )


async def setup(bot: ReelBot) -> None:
    await bot.add_cog(StylesCog(bot))
