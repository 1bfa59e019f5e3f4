"""/add and /swap, and the result's ✏️ Modify and ↔ Expand registered so they survive restarts.

`/add clip:<link or id> image:<picture> prompt:"on the table" [where:…]` puts the picture's
object into the clip; `/swap clip:<…> what:"the red car" with:"a vintage bicycle"` (or
`with_image:<picture>`) replaces a thing. Both make a child clip owned by whoever asked, checked
and sized by `intake.edits` and queued as every request (`bot.delivery.edit_views.queue_edit`):
the clip, the words and the member's place are checked before a picture is fetched, and the
picture gets exactly /animate's checks (`intake.media.images`).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.deferral import Deferral
from bot.delivery.edit_views import ExpandSelect, FetchPicture, ModifyButton, queue_edit
from core.edits import MAX_WHERE_CHARS
from core.errors import UserFacingError
from intake.edits import MAX_INSTRUCTION_CHARS, EditAsk, clip_id_of, message_id_of
from intake.media.images import download

if TYPE_CHECKING:
    from bot.app import ReelBot

DOWNLOAD_TIMEOUT_S = 15.0
CLIP_HELP = "The clip to edit: its id, its gallery link or the link to its message"
WHERE_DESCRIPTION = "Where: the red car, left, top, center, or x,y,w,h in percent (optional)"


def picture_of(bot: ReelBot, attachment: discord.Attachment) -> FetchPicture:
    """Fetches `attachment` and checks it as /animate does: the re-encoded PNG."""

    async def fetch() -> bytes:
        data = await download(attachment, timeout_s=DOWNLOAD_TIMEOUT_S)
        return (await bot.upload_checks.image(data, attachment.filename)).png

    return fetch


async def clip_of(bot: ReelBot, clip: str) -> str:
    """The clip's id from an id, a gallery link, or the link to its result message."""
    message_id = message_id_of(clip)
    if message_id is None:
        return clip_id_of(clip, bot.deliverer.public_url)
    row = await asyncio.to_thread(bot.community.by_message, message_id)
    if row is None:
        raise UserFacingError("That message isn't one of my clips. Link a clip's result message.")
    return row.id


class EditCog(commands.Cog):
    def __init__(self, bot: ReelBot) -> None:
        self.bot = bot

    async def cog_load(self) -> None:
        self.bot.add_dynamic_items(ModifyButton, ExpandSelect)  # clickable after restarts

    async def cog_unload(self) -> None:
        self.bot.remove_dynamic_items(ModifyButton, ExpandSelect)

    @app_commands.command(name="add")
    @app_commands.describe(
        clip=CLIP_HELP,
        image="What to add: PNG, JPEG, WebP or GIF, at least 64×64, up to 10 MB",
        prompt='Where and how it appears, e.g. "on the table" (optional)',
        where=WHERE_DESCRIPTION,
    )
    async def add(
        self,
        interaction: discord.Interaction[ReelBot],
        clip: app_commands.Range[str, 1, 300],
        image: discord.Attachment,
        prompt: app_commands.Range[str, 1, MAX_INSTRUCTION_CHARS] | None = None,
        where: app_commands.Range[str, 1, MAX_WHERE_CHARS] | None = None,
    ) -> None:
        """Put the object in a picture into one of the clips here."""
        gid = await clip_of(self.bot, clip)
        ask = EditAsk("add", instruction=prompt or "", where=where or "")
        await Deferral.of(interaction).arm()  # "thinking…" if the picture is slow
        await queue_edit(interaction, gid, ask, picture=picture_of(self.bot, image))

    @app_commands.command(name="swap")
    @app_commands.rename(with_words="with")
    @app_commands.describe(
        clip=CLIP_HELP,
        what='The thing to replace, e.g. "the red car" (or a region: left, 10,20,30,40)',
        with_words='What replaces it, e.g. "a vintage bicycle" (or give with_image)',
        with_image="A picture of what replaces it (instead of with)",
    )
    async def swap(
        self,
        interaction: discord.Interaction[ReelBot],
        clip: app_commands.Range[str, 1, 300],
        what: app_commands.Range[str, 1, MAX_WHERE_CHARS],
        with_words: app_commands.Range[str, 1, MAX_INSTRUCTION_CHARS] | None = None,
        with_image: discord.Attachment | None = None,
    ) -> None:
        """Replace a thing in one of the clips here, by words or by a picture."""
        if (with_words is None) == (with_image is None):
            raise UserFacingError(
                "Give exactly one of `with` (words) or `with_image` (a picture) for what "
                "replaces it."
            )
        gid = await clip_of(self.bot, clip)
        ask = EditAsk("swap", instruction=with_words or "", where=what)
        if with_image is None:
            await queue_edit(interaction, gid, ask)
            return
        await Deferral.of(interaction).arm()
        await queue_edit(interaction, gid, ask, picture=picture_of(self.bot, with_image))


async def setup(bot: ReelBot) -> None:
    await bot.add_cog(EditCog(bot))
