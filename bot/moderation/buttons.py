"""The review message and its buttons: Approve / Reject under a held request or a clip the
output scan held, Restore / Remove under a reported clip.

    custom_id = "reelbot:<action>:<generation id>"   action: approve | reject | restore | remove

The buttons are `DynamicItem`s that carry their state in the custom_id: they keep working after a
restart (`bot.cogs.moderation` registers them), and refuse anyone who is not a moderator
(`ReviewConfig.is_moderator`). A click moves the row's state first (`decisions.move`), so of two
moderators clicking at once one acts and the other is told it was already decided; then the
decision (`bot.moderation.decisions`) does the rest.
"""

from __future__ import annotations

import asyncio
import re
from typing import TYPE_CHECKING, Any, Literal, get_args

import discord

from bot.moderation.decisions import (
    approve,
    approve_clip,
    move,
    plain,
    reject,
    reject_clip,
    remove,
    restore,
)
from bot.replies import answer_error
from core.errors import UserFacingError
from core.ids import GENERATION_ID_PATTERN
from gallery.models import Generation, GenerationStatus, Moderation
from gallery.store import GalleryStore

if TYPE_CHECKING:
    from bot.app import ReelBot

REFUSED = "Only moderators can do that."

ReviewAction = Literal["approve", "reject", "restore", "remove"]
TEMPLATE = re.compile(
    rf"reelbot:(?P<action>{'|'.join(get_args(ReviewAction))}):(?P<gid>{GENERATION_ID_PATTERN})"
)
LOOKS: dict[str, tuple[str, discord.ButtonStyle]] = {
    "approve": ("Approve", discord.ButtonStyle.success),
    "reject": ("Reject", discord.ButtonStyle.danger),
    "restore": ("Restore", discord.ButtonStyle.success),
    "remove": ("Remove", discord.ButtonStyle.danger),
}
DONE: dict[str, str] = {
    "approve": "✅ Approved",
    "reject": "❌ Rejected",
    "restore": "✅ Restored",
    "remove": "🗑️ Removed",
}
ALREADY = "Another moderator already decided on this request."


async def post_review(
    bot: ReelBot,
    text: str,
    actions: tuple[ReviewAction, ...],
    generation_id: str,
    *,
    file: discord.File | None = None,
    nonce: str | None = None,
) -> None:
    """A message in the review channel with the decision buttons; `nonce` makes a repeated
    post (delivery retrying) return the first message instead of a second one."""
    assert bot.review_config.channel_id is not None
    view = discord.ui.View(timeout=None)
    for action in actions:
        view.add_item(ReviewButton(action, generation_id))
    channel = bot.get_partial_messageable(bot.review_config.channel_id)
    extra: dict[str, Any] = {"nonce": nonce} if nonce else {}
    if file is not None:
        extra["file"] = file
    await channel.send(
        text[:2000], view=view, allowed_mentions=discord.AllowedMentions.none(), **extra
    )


async def _decided(interaction: discord.Interaction[ReelBot], action: str, why: str = "") -> None:
    """The review message records the decision and loses its buttons."""
    assert interaction.message is not None
    line = f"\n{DONE[action]} by <@{interaction.user.id}>" + (f": {plain(why)}" if why else "")
    await interaction.response.edit_message(
        content=(interaction.message.content + line)[:2000],
        view=None,
        allowed_mentions=discord.AllowedMentions.none(),
    )


async def _row(store: GalleryStore, generation_id: str) -> Generation:
    row = await asyncio.to_thread(store.get, generation_id)
    if row is None:
        raise UserFacingError("I can't find this clip any more.")
    return row


class RejectForm(discord.ui.Modal, title="Reject this request"):
    reason: discord.ui.TextInput[RejectForm] = discord.ui.TextInput(
        label="Why (the member reads this)",
        style=discord.TextStyle.paragraph,
        min_length=1,
        max_length=500,
        custom_id="reason",
    )

    def __init__(self, generation_id: str) -> None:
        super().__init__(timeout=30 * 60)
        self.generation_id = generation_id

    async def on_submit(self, interaction: discord.Interaction[ReelBot]) -> None:  # type: ignore[override]
        bot = interaction.client
        row = await _row(bot.store, self.generation_id)
        if not await move(bot, row, (Moderation.HELD,), Moderation.REMOVED):
            raise UserFacingError(ALREADY)
        await _decided(interaction, "reject", self.reason.value)
        if row.status == GenerationStatus.DONE:  # a clip the output scan held
            await reject_clip(bot, row, interaction.user.id, self.reason.value)
        else:
            await reject(bot, row, interaction.user.id, self.reason.value)

    async def on_error(  # type: ignore[override]
        self, interaction: discord.Interaction[ReelBot], error: Exception
    ) -> None:
        await answer_error(interaction, error)


class ReviewButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=TEMPLATE):
    """Approve / Reject under a held request, Restore / Remove under a reported clip."""

    def __init__(self, action: ReviewAction, generation_id: str) -> None:
        label, style = LOOKS[action]
        super().__init__(
            discord.ui.Button(
                label=label, style=style, custom_id=f"reelbot:{action}:{generation_id}"
            )
        )
        self.action: ReviewAction = action
        self.generation_id = generation_id

    @classmethod
    async def from_custom_id(  # type: ignore[override]
        cls,
        interaction: discord.Interaction[ReelBot],
        item: discord.ui.Button[Any],
        match: re.Match[str],
        /,
    ) -> ReviewButton:
        return cls(match["action"], match["gid"])  # type: ignore[arg-type]

    async def interaction_check(self, interaction: discord.Interaction[ReelBot], /) -> bool:  # type: ignore[override]
        if interaction.client.review_config.is_moderator(interaction):
            return True
        await interaction.response.send_message(REFUSED, ephemeral=True)
        return False

    async def callback(self, interaction: discord.Interaction[ReelBot]) -> None:  # type: ignore[override]
        bot = interaction.client
        try:
            if self.action == "reject":  # a modal must be the first response
                await interaction.response.send_modal(RejectForm(self.generation_id))
                return
            row = await _row(bot.store, self.generation_id)
            if self.action == "approve":
                if not await move(bot, row, (Moderation.HELD,), Moderation.OK):
                    raise UserFacingError(ALREADY)
                try:
                    await _decided(interaction, "approve")
                finally:  # approved is approved: a failed edit must not strand the request
                    if row.status == GenerationStatus.DONE:  # a clip the output scan held
                        await approve_clip(bot, row, interaction.user.id)
                    else:
                        await approve(bot, row, interaction.user.id)
                return
            if self.action == "restore":
                done = await restore(bot, row, interaction.user.id, action="restore")
            else:
                done = await remove(bot, row, interaction.user.id)
            if not done:
                raise UserFacingError("Another moderator already decided on this clip.")
            await _decided(interaction, self.action)
        except Exception as exc:
            await answer_error(interaction, exc)
