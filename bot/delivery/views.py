"""The buttons under every result — Reroll, Remix, Vary, Delete, and Extend / Upscale / 🔊 Add
sound when the loaded model can — as `DynamicItem`s that carry all their state in the custom_id.

    custom_id = "reelbot:<action>:<generation id>"   e.g. "reelbot:reroll:0f3c…" (≤ 48 chars)

Nothing is kept in memory per message: discord.py matches a click's custom_id against
`TEMPLATE` and rebuilds the button, so buttons posted before a bot restart work after it, and
everything else (owner, settings, media) is read from the gallery row at click time. Anyone who
can see a result may reroll, remix, vary, extend or upscale it (the new clip is theirs, with the
parent recorded); Delete refuses everyone but the owner and moderators in `interaction_check`.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, get_args

import discord

from bot.delivery.edit_views import edit_items
from bot.delivery.story_views import RetakeButton
from bot.intake.effects import effect_spec
from bot.intake.requests import Asker, reply_with, submit_request
from bot.replies import answer_error
from core.commandline import to_command_line
from core.errors import UserFacingError
from core.ids import GENERATION_ID_PATTERN
from core.spec import MAX_SOUND_CHARS, RenderSpec
from core.stylefile import StyleMenu
from gallery import deletion
from gallery.models import Generation
from gallery.store import GalleryStore
from intake.addsound import add_sound_spec
from intake.followups import FollowUp, follow_up_spec

if TYPE_CHECKING:
    from bot.app import ReelBot

log = logging.getLogger(__name__)

ClipAction = Literal["reroll", "remix", "vary", "extend", "upscale", "loop", "sound", "delete"]
ACTIONS: tuple[ClipAction, ...] = get_args(ClipAction)
# shown only when the model has the mode (`Capabilities.all_modes`: "sound" is Add sound),
# and Loop when it loops (`bot.app` adds "loop")
OPTIONAL_ACTIONS = frozenset({"extend", "upscale", "loop", "sound"})
PREFIX = "reelbot"
TEMPLATE = re.compile(rf"{PREFIX}:(?P<action>{'|'.join(ACTIONS)}):(?P<gid>{GENERATION_ID_PATTERN})")
CUSTOM_ID_LIMIT = 100  # Discord's bound on a component's custom_id
REFUSED = "Only the person who made this clip, or a moderator, can delete it."


def encode(action: ClipAction, generation_id: str) -> str:
    """The custom_id of a button; ValueError if it would not round-trip through `decode`."""
    custom_id = f"{PREFIX}:{action}:{generation_id}"
    if len(custom_id) > CUSTOM_ID_LIMIT or not TEMPLATE.fullmatch(custom_id):
        raise ValueError(f"no button for action={action!r}, generation_id={generation_id!r}")
    return custom_id


def decode(custom_id: str) -> tuple[ClipAction, str] | None:
    """(action, generation id) from a custom_id, or None if it is not one of ours."""
    match = TEMPLATE.fullmatch(custom_id)
    if match is None:
        return None
    action: ClipAction = match["action"]  # type: ignore[assignment]  # the template allows ACTIONS
    return action, match["gid"]


@dataclass(frozen=True, slots=True)
class Look:
    label: str
    emoji: str
    style: discord.ButtonStyle = discord.ButtonStyle.secondary


LOOKS: dict[ClipAction, Look] = {
    "reroll": Look("Reroll", "🎲"),
    "remix": Look("Remix", "✏️"),
    "vary": Look("Vary", "🌀"),
    "extend": Look("Extend", "⏩"),
    "upscale": Look("Upscale", "🔍"),
    "loop": Look("Loop", "🔁"),
    "sound": Look("Add sound", "🔊"),
    "delete": Look("Delete", "🗑️", discord.ButtonStyle.danger),
}


def result_actions(modes: Collection[str]) -> list[ClipAction]:
    """The buttons a result gets with a model that has `modes`, in the order they show."""
    return [a for a in ACTIONS if a not in OPTIONAL_ACTIONS or a in modes]


def result_view(
    generation_id: str,
    modes: Collection[str],
    effects: Sequence[tuple[str, str]] = (),
    *,
    story: bool = False,
) -> discord.ui.View:
    """The buttons for a result message, and ✨ Effects when `effects` (name, description) are
    offered. `timeout=None`: a view that timed out would unregister the dynamic items from
    discord.py's store, killing every result's buttons."""
    view = discord.ui.View(timeout=None)
    for action in result_actions(modes):
        view.add_item(ClipButton(action, generation_id))
    for item in edit_items(generation_id) if "edit" in modes else ():  # ✏️ Modify, ↔ Expand
        view.add_item(item)
    if effects:
        view.add_item(EffectSelect(generation_id, effects))
    if story:  # 🎬 Retake one of its shots (`bot.delivery.story_views`)
        view.add_item(RetakeButton(generation_id))
    return view


# --- ✨ Effects: the server's effects on the picture a result was made from ---------------

EFFECTS_TEMPLATE = re.compile(rf"{PREFIX}:effects:(?P<gid>{GENERATION_ID_PATTERN})")
MAX_OPTIONS = 25  # Discord's bound on a select's options


def effect_options(client: discord.Client, spec: RenderSpec) -> list[tuple[str, str]]:
    """(name, description) of the effects a result offers: the server's, for a clip made from
    a picture (effects animate a picture); none for any other clip."""
    styles = getattr(client, "style_presets", None)
    if spec.mode != "i2v" or not isinstance(styles, StyleMenu):
        return []
    return [(name, e.description) for name, e in sorted(styles.effects.items())][:MAX_OPTIONS]


class EffectSelect(discord.ui.DynamicItem[discord.ui.Select[Any]], template=EFFECTS_TEMPLATE):
    """✨ Effects under a result made from a picture: the chosen effect on that picture, as a
    child clip of whoever picks it (through the caps, the policy and the fair queue)."""

    def __init__(self, generation_id: str, effects: Sequence[tuple[str, str]] = ()) -> None:
        options = [
            discord.SelectOption(label=name, value=name, description=about[:100] or None)
            for name, about in effects
        ] or [discord.SelectOption(label="none", value="none")]  # rebuilt from a click
        super().__init__(
            discord.ui.Select(
                custom_id=f"{PREFIX}:effects:{generation_id}",
                placeholder="✨ Effects",
                options=options,
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
    ) -> EffectSelect:
        return cls(match["gid"])

    async def callback(self, interaction: discord.Interaction[ReelBot]) -> None:  # type: ignore[override]
        try:
            values = (interaction.data or {}).get("values") or [""]
            bot = interaction.client
            row = await load_clip(bot.store, self.generation_id)
            asker = Asker.of(interaction)
            spec = effect_spec(
                RenderSpec.model_validate(row.spec),
                row.id,
                str(values[0]),
                asker,
                bot.model_capabilities,
                bot.style_presets,
                default_quality=bot.default_quality,
            )
            await submit_request(bot, spec, asker, reply_with(interaction))
        except Exception as exc:
            await answer_error(interaction, exc)


# --- what the buttons (and the reactions, in bot.cogs.remix) share ----------------------------


async def load_clip(store: GalleryStore, generation_id: str) -> Generation:
    """The gallery row behind a button; a friendly error if it is gone or was deleted."""
    row = await asyncio.to_thread(store.get, generation_id)
    if row is None:
        raise UserFacingError("I can't find this clip any more.")
    if row.deleted_at is not None:
        raise UserFacingError("This clip was deleted.")
    return row


def may_delete(row: Generation, user_id: int, *, manage_messages: bool) -> bool:
    """The owner, or a moderator: someone who may manage messages in that channel."""
    return manage_messages or row.owner_id == f"discord:{user_id}"


async def delete_clip(bot: ReelBot, generation_id: str, message: discord.Message) -> None:
    """Out of the gallery first (the system of record: the row marked deleted, the files
    gone, see `gallery.deletion`), then the result and its "queued" message (which still
    shows the prompt) out of the channel. Deleting is best effort on Discord's side: a
    message someone else already removed is fine."""
    await asyncio.to_thread(
        deletion.delete_clip, bot.community, bot.store, bot.media_store, generation_id
    )
    status = await _status_message(bot, message)
    for doomed in (message, status):
        if doomed is None:
            continue
        try:
            await doomed.delete()
        except discord.NotFound:
            pass
        except discord.HTTPException as exc:
            log.warning(
                "could not delete message %s: %s",
                doomed.id,
                exc,
                extra={"generation_id": generation_id},
            )
    log.info("deleted", extra={"generation_id": generation_id})


async def _status_message(
    client: discord.Client, result: discord.Message
) -> discord.Message | None:
    """The bot's "queued" message the result replies to, if there is one."""
    ref = result.reference
    if ref is None or ref.message_id is None:
        return None
    status = ref.resolved if isinstance(ref.resolved, discord.Message) else None
    if status is None:
        try:
            status = await result.channel.fetch_message(ref.message_id)
        except discord.HTTPException:
            return None
    return status if client.user is not None and status.author.id == client.user.id else None


async def follow_up(
    interaction: discord.Interaction[ReelBot],
    generation_id: str,
    action: FollowUp,
    text: str | None = None,
) -> None:
    """Queue a child of a clip for whoever clicked (or submitted the Remix form); the queued
    message is the interaction's public answer, as with /create."""
    bot = interaction.client
    row = await load_clip(bot.store, generation_id)
    asker = Asker.of(interaction)
    spec = follow_up_spec(
        RenderSpec.model_validate(row.spec),
        row.id,
        action,
        asker,
        bot.model_capabilities,
        bot.style_presets,
        text=text,
        parent_media=row.media_path,
        default_quality=bot.default_quality,
    )
    await submit_request(bot, spec, asker, reply_with(interaction))


# --- the button and the form ----------------------------------------------------------------


class RemixForm(discord.ui.Modal, title="Remix this clip"):
    """The clip's `/create` text, prefilled, to edit and send as a new clip. Its custom_id is
    random (discord.py's default): two people remixing one clip each get their own form."""

    text: discord.ui.TextInput[RemixForm] = discord.ui.TextInput(
        label="Prompt and flags",
        style=discord.TextStyle.paragraph,
        min_length=1,
        max_length=4000,
        custom_id="text",
    )

    def __init__(self, generation_id: str, command_line: str) -> None:
        super().__init__(timeout=30 * 60)  # a form left open longer is dropped from memory
        self.generation_id = generation_id
        self.text.default = command_line

    async def on_submit(self, interaction: discord.Interaction[ReelBot]) -> None:  # type: ignore[override]
        await follow_up(interaction, self.generation_id, "remix", self.text.value)

    async def on_error(  # type: ignore[override]
        self, interaction: discord.Interaction[ReelBot], error: Exception
    ) -> None:
        await answer_error(interaction, error)


class AddSoundForm(discord.ui.Modal, title="Add sound to this clip"):
    """Words for the sound, or none for a sound made from the clip's own prompt; the clip's
    picture stays as it is (`intake.addsound`)."""

    words: discord.ui.TextInput[AddSoundForm] = discord.ui.TextInput(
        label="What should it sound like? (optional)",
        placeholder="rain on a tin roof, distant thunder (empty: from the clip's prompt)",
        required=False,
        max_length=MAX_SOUND_CHARS,
        custom_id="words",
    )

    def __init__(self, generation_id: str) -> None:
        super().__init__(timeout=30 * 60)  # a form left open longer is dropped from memory
        self.generation_id = generation_id

    async def on_submit(self, interaction: discord.Interaction[ReelBot]) -> None:  # type: ignore[override]
        bot = interaction.client
        row = await load_clip(bot.store, self.generation_id)
        asker = Asker.of(interaction)
        spec = add_sound_spec(
            RenderSpec.model_validate(row.spec),
            row.id,
            asker,
            bot.model_capabilities,
            bot.style_presets,
            words=self.words.value or "",
            parent_media=row.media_path,
            default_quality=bot.default_quality,
        )
        await submit_request(bot, spec, asker, reply_with(interaction))

    async def on_error(  # type: ignore[override]
        self, interaction: discord.Interaction[ReelBot], error: Exception
    ) -> None:
        await answer_error(interaction, error)


class ClipButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=TEMPLATE):
    """One result button; which one is the `action` part of its custom_id."""

    def __init__(self, action: ClipAction, generation_id: str) -> None:
        look = LOOKS[action]
        super().__init__(
            discord.ui.Button(
                label=look.label,
                emoji=look.emoji,
                style=look.style,
                custom_id=encode(action, generation_id),
            )
        )
        self.action: ClipAction = action
        self.generation_id = generation_id

    @classmethod
    async def from_custom_id(  # type: ignore[override]
        cls,
        interaction: discord.Interaction[ReelBot],
        item: discord.ui.Button[Any],
        match: re.Match[str],
        /,
    ) -> ClipButton:
        decoded = decode(match.string)
        assert decoded is not None  # discord.py only calls this when TEMPLATE matched
        return cls(*decoded)

    async def interaction_check(self, interaction: discord.Interaction[ReelBot], /) -> bool:  # type: ignore[override]
        """Delete answers others with a private refusal; every other button is for anyone."""
        if self.action != "delete":
            return True
        try:
            row = await load_clip(interaction.client.store, self.generation_id)
            manage = interaction.guild_id is not None and interaction.permissions.manage_messages
            if may_delete(row, interaction.user.id, manage_messages=manage):
                return True
            await interaction.response.send_message(REFUSED, ephemeral=True)
        except Exception as exc:
            await answer_error(interaction, exc)
        return False

    async def callback(self, interaction: discord.Interaction[ReelBot]) -> None:  # type: ignore[override]
        try:
            if self.action == "remix":
                # a modal must be the first response, so nothing slow may come before it
                row = await load_clip(interaction.client.store, self.generation_id)
                spec = RenderSpec.model_validate(row.spec)
                bot = interaction.client
                line = to_command_line(
                    spec, capabilities=bot.model_capabilities, default_quality=bot.default_quality
                )
                await interaction.response.send_modal(RemixForm(row.id, line))
            elif self.action == "sound":  # the form first: a modal must be the first response
                await interaction.response.send_modal(AddSoundForm(self.generation_id))
            elif self.action == "delete":
                assert interaction.message is not None  # a button is always on a message
                await interaction.response.defer()  # deleting may take a few calls
                await delete_clip(interaction.client, self.generation_id, interaction.message)
                await interaction.followup.send("Deleted.", ephemeral=True)
            else:
                await follow_up(interaction, self.generation_id, self.action)
        except Exception as exc:
            await answer_error(interaction, exc)
