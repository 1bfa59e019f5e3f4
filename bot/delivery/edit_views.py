"""✏️ Modify and ↔ Expand under a result: a form (what to change, and where) and a select of
shapes, each a `DynamicItem` carrying the clip's id in its custom_id, so they work after a
restart as the other result buttons do (`bot.delivery.views`).

    custom_id = "reelbot:modify:<generation id>" / "reelbot:expand:<generation id>"

The edit is a child of the clip owned by whoever asked (`intake.edits`), through the same
screening, caps and fair queue as every request; its queued answer is public, as a follow-up's.
`queue_edit` is shared with /add and /swap (`bot.cogs.edit`).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import discord

from bot.intake.requests import Asker, reply_with, submit_request
from bot.intake.tickets import admitted
from bot.replies import answer_error
from core.edits import EXPAND_SHAPES, MAX_WHERE_CHARS, ZOOM_OUTS
from core.ids import GENERATION_ID_PATTERN
from core.spec import RenderSpec
from intake.edits import (
    MAX_INSTRUCTION_CHARS,
    EditAsk,
    check_parent,
    edit_capabilities,
    edit_spec,
    queued_note,
)

if TYPE_CHECKING:
    from bot.app import ReelBot

PREFIX = "reelbot"
MODIFY_TEMPLATE = re.compile(rf"{PREFIX}:modify:(?P<gid>{GENERATION_ID_PATTERN})")
EXPAND_TEMPLATE = re.compile(rf"{PREFIX}:expand:(?P<gid>{GENERATION_ID_PATTERN})")
ZOOM_PREFIX = "zoom:"


def expand_choices() -> list[tuple[str, str]]:
    """(label, value) of ↔ Expand's options: each shape, then each zoom out."""
    shapes = [(f"Expand to {shape}", shape) for shape in EXPAND_SHAPES]
    zooms = [(f"Zoom out {z:g}×", f"{ZOOM_PREFIX}{z:g}") for z in ZOOM_OUTS]
    return shapes + zooms


def expand_ask(value: str) -> EditAsk:
    """The select's value read back as an expand (a shape, or zoom:1.5)."""
    if value.startswith(ZOOM_PREFIX):
        return EditAsk("expand", zoom_out=float(value.removeprefix(ZOOM_PREFIX)))
    return EditAsk("expand", expand_to=value)


def moderates(interaction: discord.Interaction[ReelBot]) -> bool:
    """Manage Messages where it was asked: a moderator, who may edit hidden clips too."""
    return interaction.guild_id is not None and interaction.permissions.manage_messages


# Reads the member's picture once the request is admitted: the checked PNG (/add, /swap).
FetchPicture = Callable[[], Awaitable[bytes]]


async def queue_edit(
    interaction: discord.Interaction[ReelBot],
    generation_id: str,
    ask: EditAsk,
    *,
    picture: FetchPicture | None = None,
) -> None:
    """Check the clip and the edit, then queue it for whoever asked: the public queued answer
    (with a note when the clip was cut to the editing family's length), or a private refusal
    raised to the caller. A `picture` is fetched and checked only after bans, the policy and
    the caps let the request in, and stored under the new id before the job exists."""
    bot = interaction.client
    asker = Asker.of(interaction)
    row = await asyncio.to_thread(bot.store.get, generation_id)
    media = check_parent(row, asker.owner_id, moderates=moderates(interaction))
    assert row is not None  # check_parent refused a missing clip
    parent = RenderSpec.model_validate(row.spec)
    caps = await edit_capabilities(bot.model_capabilities, bot.submitter.fleet)
    # a picture's place holds the parent's path until the picture is stored under the new id
    held = media if picture is not None else None
    spec = edit_spec(
        parent,
        row.id,
        asker,
        ask,
        caps,
        parent_media=media,
        picture=held,
        default_quality=bot.default_quality,
    )
    note = queued_note(parent, caps)
    if picture is None:
        await submit_request(bot, spec, asker, reply_with(interaction), note=note)
        return
    async with admitted(bot, spec, asker) as ticket:
        png = await picture()
        stored, _size = await asyncio.to_thread(
            bot.media_store.save_bytes, ticket.generation_id, png, "png"
        )
        spec = spec.model_copy(update={"input_media": (media, stored)})
        await submit_request(bot, spec, asker, reply_with(interaction), ticket=ticket, note=note)


class ModifyForm(discord.ui.Modal, title="Modify this clip"):
    """What to change and, optionally, where; without where the whole clip is edited."""

    what: discord.ui.TextInput[ModifyForm] = discord.ui.TextInput(
        label="What to change",
        placeholder="make it snow / turn the dog into a cat",
        min_length=1,
        max_length=MAX_INSTRUCTION_CHARS,
        custom_id="what",
    )
    where: discord.ui.TextInput[ModifyForm] = discord.ui.TextInput(
        label="Where (optional)",
        placeholder="the sky / left / 10,20,30,40 (empty: the whole clip)",
        required=False,
        max_length=MAX_WHERE_CHARS,
        custom_id="where",
    )

    def __init__(self, generation_id: str) -> None:
        super().__init__(timeout=30 * 60)  # a form left open longer is dropped from memory
        self.generation_id = generation_id

    async def on_submit(self, interaction: discord.Interaction[ReelBot]) -> None:  # type: ignore[override]
        ask = EditAsk("modify", instruction=self.what.value, where=self.where.value or "")
        await queue_edit(interaction, self.generation_id, ask)

    async def on_error(  # type: ignore[override]
        self, interaction: discord.Interaction[ReelBot], error: Exception
    ) -> None:
        await answer_error(interaction, error)


class ModifyButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=MODIFY_TEMPLATE):
    """✏️ Modify: opens the form (a modal must be the first answer, so nothing comes first)."""

    def __init__(self, generation_id: str) -> None:
        super().__init__(
            discord.ui.Button(
                label="Modify",
                emoji="✏️",
                style=discord.ButtonStyle.secondary,
                custom_id=f"{PREFIX}:modify:{generation_id}",
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
    ) -> ModifyButton:
        return cls(match["gid"])

    async def callback(self, interaction: discord.Interaction[ReelBot]) -> None:  # type: ignore[override]
        try:
            await interaction.response.send_modal(ModifyForm(self.generation_id))
        except Exception as exc:
            await answer_error(interaction, exc)


class ExpandSelect(discord.ui.DynamicItem[discord.ui.Select[Any]], template=EXPAND_TEMPLATE):
    """↔ Expand: a new shape (or a zoom out) with new borders around the clip as it was."""

    def __init__(self, generation_id: str) -> None:
        super().__init__(
            discord.ui.Select(
                custom_id=f"{PREFIX}:expand:{generation_id}",
                placeholder="↔ Expand",
                options=[
                    discord.SelectOption(label=label, value=value)
                    for label, value in expand_choices()
                ],
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
    ) -> ExpandSelect:
        return cls(match["gid"])

    async def callback(self, interaction: discord.Interaction[ReelBot]) -> None:  # type: ignore[override]
        try:
            values = (interaction.data or {}).get("values") or [""]
            choice = str(values[0])
            if choice not in {value for _, value in expand_choices()}:
                raise ValueError(f"unknown expand choice {choice!r}")
            await queue_edit(interaction, self.generation_id, expand_ask(choice))
        except Exception as exc:
            await answer_error(interaction, exc)


def edit_items(generation_id: str) -> list[discord.ui.Item[Any]]:
    """✏️ Modify and ↔ Expand for a result (`bot.delivery.views.result_view` adds them)."""
    return [ModifyButton(generation_id), ExpandSelect(generation_id)]
