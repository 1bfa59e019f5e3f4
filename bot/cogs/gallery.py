"""`/gallery`: this server's public clips, newest or most liked, five to a page.

The reply is private (ephemeral), so each member pages on their own without filling the
channel. The Previous/Next buttons carry the order and the page they lead to in their
custom_id, so paging keeps working after a bot restart; the server comes from the click.
"""

from __future__ import annotations

import asyncio
import re
from typing import TYPE_CHECKING, Any, Literal

import discord
from discord import app_commands
from discord.ext import commands

from bot.cogs.info import excerpt
from gallery.models import Generation
from gallery.web import clip_url

if TYPE_CHECKING:
    from bot.app import ReelBot

PAGE_SIZE = 5
MAX_PAGE = 9999  # four digits in the custom_id; nobody pages 50,000 clips with buttons
Order = Literal["new", "top"]
_TITLES: dict[str, str] = {"new": "Newest clips", "top": "Most liked clips"}
_LINK_BREAKERS = str.maketrans("", "", "[]()<>")


class GalleryPageButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"reelbot:gallery:(?P<order>new|top):(?P<page>[0-9]{1,4})",
):
    """Shows page `page` (0-based) of the server's clips in `order`."""

    def __init__(self, order: str, page: int, *, label: str = "", disabled: bool = False) -> None:
        super().__init__(
            discord.ui.Button(
                label=label or "Page",
                style=discord.ButtonStyle.secondary,
                custom_id=f"reelbot:gallery:{order}:{page}",
                disabled=disabled,
            )
        )
        self.order = order
        self.page = page

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],  # the bot's; Any as the base class types it
        item: discord.ui.Item[Any],
        match: re.Match[str],
    ) -> GalleryPageButton:
        return cls(match["order"], int(match["page"]))

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        bot: ReelBot = interaction.client
        if interaction.guild_id is None:
            await interaction.response.send_message(dm_text(bot), ephemeral=True)
            return
        text, view = await gallery_page(bot, interaction.guild_id, self.order, self.page)
        await interaction.response.edit_message(
            content=text, view=view, allowed_mentions=discord.AllowedMentions.none()
        )


def dm_text(bot: ReelBot) -> str:
    return (
        "/gallery lists a server's clips, so run it in a server channel. "
        f"All public clips are at {bot.deliverer.public_url}"
    )


def clip_line(number: int, clip: Generation, public_url: str) -> str:
    """`3. ❤️ 2 · [“a fox running…”](<url>)`: the angle brackets keep Discord from unfurling
    five previews under a private list."""
    text = excerpt(clip.prompt).translate(_LINK_BREAKERS)
    return f"{number}. ❤️ {clip.like_count} · [“{text}”](<{clip_url(public_url, clip.id)}>)"


async def gallery_page(
    bot: ReelBot, guild_id: int, order: str, page: int
) -> tuple[str, discord.ui.View | None]:
    """One page of the list and its Previous/Next buttons (None: nothing to page through)."""
    page = min(max(page, 0), MAX_PAGE)
    rows = await asyncio.to_thread(
        bot.community.guild_clips,
        guild_id,
        order=order,
        limit=PAGE_SIZE + 1,
        offset=page * PAGE_SIZE,
    )
    if not rows and page == 0:
        return "No public clips from this server yet. Make the first one with /create!", None
    shown, has_next = rows[:PAGE_SIZE], len(rows) > PAGE_SIZE
    lines = [f"**{_TITLES[order]}** from this server · page {page + 1}"]
    lines += [
        clip_line(page * PAGE_SIZE + i, clip, bot.deliverer.public_url)
        for i, clip in enumerate(shown, start=1)
    ]
    if not shown:
        lines.append("No more clips.")
    view = discord.ui.View(timeout=None)
    view.add_item(
        GalleryPageButton(order, max(page - 1, 0), label="◀ Previous", disabled=page == 0)
    )
    view.add_item(
        GalleryPageButton(
            order, page + 1, label="Next ▶", disabled=not has_next or page >= MAX_PAGE
        )
    )
    return "\n".join(lines), view


class GalleryCog(commands.Cog):
    def __init__(self, bot: ReelBot) -> None:
        self.bot = bot

    @app_commands.command(name="gallery")
    @app_commands.describe(order="Newest first, or most liked first")
    async def gallery(
        self, interaction: discord.Interaction[ReelBot], order: Order = "new"
    ) -> None:
        """Browse this server's public clips."""
        bot = interaction.client
        if interaction.guild_id is None:
            await interaction.response.send_message(dm_text(bot), ephemeral=True)
            return
        text, view = await gallery_page(bot, interaction.guild_id, order, 0)
        kwargs: dict[str, Any] = {} if view is None else {"view": view}
        await interaction.response.send_message(
            text, ephemeral=True, allowed_mentions=discord.AllowedMentions.none(), **kwargs
        )


async def setup(bot: ReelBot) -> None:
    bot.add_dynamic_items(GalleryPageButton)
    await bot.add_cog(GalleryCog(bot))


async def teardown(bot: ReelBot) -> None:
    bot.remove_dynamic_items(GalleryPageButton)
