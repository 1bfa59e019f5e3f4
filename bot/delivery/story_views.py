"""🎬 Retake under a story: its owner picks one shot, and a new version of the story (a child
clip, the story as its parent) renders that shot again with a new seed and keeps the others
(`worker.story`). Both are `DynamicItem`s carrying the story's id in their custom_id, so they
work after a restart as the other result buttons do (`bot.delivery.views`).

    custom_id = "reelbot:retake:<generation id>" / "reelbot:retakeshot:<generation id>"

The retake goes through the same screening, caps (one clip: one shot renders) and fair queue as
every request; its queued answer is public, as a follow-up's.
"""

from __future__ import annotations

import asyncio
import re
from typing import TYPE_CHECKING, Any

import discord

from bot.intake.requests import Asker, reply_with, submit_request
from bot.replies import answer_error
from core.errors import UserFacingError
from core.ids import GENERATION_ID_PATTERN
from core.spec import RenderSpec
from core.story import STORY, shots
from gallery.models import Generation
from gallery.store import GalleryStore
from intake.followups import follow_up_spec

if TYPE_CHECKING:
    from bot.app import ReelBot

PREFIX = "reelbot"
RETAKE_TEMPLATE = re.compile(rf"{PREFIX}:retake:(?P<gid>{GENERATION_ID_PATTERN})")
SHOT_TEMPLATE = re.compile(rf"{PREFIX}:retakeshot:(?P<gid>{GENERATION_ID_PATTERN})")
REFUSED = "Only the person who made this story can retake its shots."
LABEL_LIMIT = 100  # Discord's bound on a select option's label


async def load_clip(store: GalleryStore, generation_id: str) -> Generation:
    """The story behind a click; a friendly error if it is gone or was deleted."""
    row = await asyncio.to_thread(store.get, generation_id)
    if row is None or row.deleted_at is not None:
        raise UserFacingError("This story was deleted, so its shots can't be retaken.")
    return row


def shot_options(prompt: str) -> list[discord.SelectOption]:
    """One option a shot: "Shot 2: the knight meets a dragon"."""
    return [
        discord.SelectOption(label=f"Shot {k + 1}: {text}"[:LABEL_LIMIT], value=str(k))
        for k, text in enumerate(shots(prompt))
    ]


async def owner_only(interaction: discord.Interaction[ReelBot], generation_id: str) -> bool:
    """The story's owner may retake it; anyone else is told so privately."""
    try:
        row = await load_clip(interaction.client.store, generation_id)
        if row.owner_id == f"discord:{interaction.user.id}":
            return True
        await interaction.response.send_message(REFUSED, ephemeral=True)
    except Exception as exc:
        await answer_error(interaction, exc)
    return False


async def queue_retake(
    interaction: discord.Interaction[ReelBot], generation_id: str, shot: int
) -> None:
    """The story again with a new seed (as 🎲 Reroll makes it), retaking shot `shot` only."""
    bot = interaction.client
    row = await load_clip(bot.store, generation_id)
    parent = RenderSpec.model_validate(row.spec)
    if parent.mode != STORY:
        raise UserFacingError("Only a story's shots can be retaken: this clip is one shot.")
    asker = Asker.of(interaction)
    rerolled = follow_up_spec(
        parent,
        row.id,
        "reroll",
        asker,
        bot.model_capabilities,
        bot.style_presets,
        parent_media=row.media_path,
        default_quality=bot.default_quality,
    )
    spec = RenderSpec.model_validate(rerolled.model_dump() | {"retake": shot})
    note = f"Retaking shot {shot + 1} of your story; the other shots stay as they were."
    await submit_request(bot, spec, asker, reply_with(interaction), note=note)


class RetakeButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=RETAKE_TEMPLATE):
    """🎬 Retake: shows its owner, privately, a select of the story's shots."""

    def __init__(self, generation_id: str) -> None:
        super().__init__(
            discord.ui.Button(
                label="Retake",
                emoji="🎬",
                style=discord.ButtonStyle.secondary,
                custom_id=f"{PREFIX}:retake:{generation_id}",
            )
        )
        self.generation_id = generation_id

    @classmethod
    async def from_custom_id(  # type: ignore[override]
        cls,
        interaction: discord.Interaction[ReelBot],
        item: discord.ui.Button[Any],
        match: re.Match[str],
        /,
    ) -> RetakeButton:
        return cls(match["gid"])

    async def interaction_check(self, interaction: discord.Interaction[ReelBot], /) -> bool:  # type: ignore[override]
        return await owner_only(interaction, self.generation_id)

    async def callback(self, interaction: discord.Interaction[ReelBot]) -> None:  # type: ignore[override]
        try:
            row = await load_clip(interaction.client.store, self.generation_id)
            prompt = str(row.spec.get("prompt", ""))
            view = discord.ui.View(timeout=None)
            view.add_item(ShotSelect(self.generation_id, shot_options(prompt)))
            await interaction.response.send_message(
                "Which shot should I take again?", view=view, ephemeral=True
            )
        except Exception as exc:
            await answer_error(interaction, exc)


class ShotSelect(discord.ui.DynamicItem[discord.ui.Select[Any]], template=SHOT_TEMPLATE):
    """The story's shots; choosing one queues the retake."""

    def __init__(
        self, generation_id: str, options: list[discord.SelectOption] | None = None
    ) -> None:
        super().__init__(
            discord.ui.Select(
                custom_id=f"{PREFIX}:retakeshot:{generation_id}",
                placeholder="🎬 Retake a shot",
                options=options or [discord.SelectOption(label="Shot 1", value="0")],
            )
        )
        self.generation_id = generation_id

    @classmethod
    async def from_custom_id(  # type: ignore[override]
        cls,
        interaction: discord.Interaction[ReelBot],
        item: discord.ui.Select[Any],
        match: re.Match[str],
        /,
    ) -> ShotSelect:
        return cls(match["gid"])

    async def interaction_check(self, interaction: discord.Interaction[ReelBot], /) -> bool:  # type: ignore[override]
        return await owner_only(interaction, self.generation_id)

    async def callback(self, interaction: discord.Interaction[ReelBot]) -> None:  # type: ignore[override]
        try:
            values = (interaction.data or {}).get("values") or [""]
            choice = str(values[0])
            if not choice.isdigit():
                raise ValueError(f"unknown shot {choice!r}")
            await queue_retake(interaction, self.generation_id, int(choice))
        except Exception as exc:
            await answer_error(interaction, exc)
