"""`/info` and `/queue`: what a member has asked for, where it stands, and cancelling it.

ETA: see `bot.delivery.eta` (the rounds of jobs ahead times the average work time of clips of
the same backend and size).

Cancelling is `intake.cancel` (the REST API cancels the same way): through the fair scheduler, a
job still waiting, or queued in arq with no worker on it, is taken out in one Lua script; a job
being rendered gets a cancel key that the worker checks at every denoising step, so the GPU is
freed at once. arq's `Job.abort()` is not used: it only cancels the asyncio task, not the render
thread. Here the bot also corrects its public "queued" message.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.cogs.settings import member_id
from bot.delivery.targets import forget_target, load_target
from bot.intake.requests import role_ids
from bot.messages import about, clip_summary
from core.fleet import lacks
from core.ids import GENERATION_ID_PATTERN
from core.spec import MAX_FPS, MIN_FPS, RenderSpec
from core.text import without_bidi
from gallery.models import Generation, GenerationStatus, Moderation
from intake.cancel import cancel_request
from jobs.fleet import Fleet

if TYPE_CHECKING:
    from bot.app import ReelBot

QUEUE_SHOWN = 10  # requests listed by /queue (two rows of Cancel buttons)


# --- pure helpers -------------------------------------------------------------------------


def excerpt(prompt: str, limit: int = 60) -> str:
    """A prompt shortened for a list line, with no markdown or mentions that could fire and no
    bidi controls reordering it."""
    flat = " ".join(without_bidi(prompt).split())
    if len(flat) > limit:
        flat = flat[: limit - 1].rstrip() + "…"
    return discord.utils.escape_mentions(discord.utils.escape_markdown(flat))


# --- the queue ----------------------------------------------------------------------------


class CancelButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=rf"reelbot:cancel:(?P<gid>{GENERATION_ID_PATTERN})",
):
    """Cancels one queued request; the generation id lives in the custom_id, so the button
    still works after a bot restart. Only the owner may use it."""

    def __init__(self, generation_id: str, label: str = "Cancel") -> None:
        super().__init__(
            discord.ui.Button(
                label=label,
                style=discord.ButtonStyle.danger,
                custom_id=f"reelbot:cancel:{generation_id}",
            )
        )
        self.generation_id = generation_id

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],  # the bot's; Any as the base class types it
        item: discord.ui.Item[Any],
        match: re.Match[str],
    ) -> CancelButton:
        return cls(match["gid"])

    async def interaction_check(self, interaction: discord.Interaction[Any]) -> bool:
        bot: ReelBot = interaction.client
        row = await asyncio.to_thread(bot.store.get, self.generation_id)
        if row is None or row.owner_id != member_id(interaction.user):
            await interaction.response.send_message(
                "Only the member who asked for this clip can cancel it.", ephemeral=True
            )
            return False
        return True

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        bot: ReelBot = interaction.client
        note = await cancel(bot, self.generation_id, interaction.user.id)
        if note is not None:
            await interaction.response.send_message(note, ephemeral=True)
            return
        text, view = await queue_page(bot, interaction.user)
        await interaction.response.edit_message(
            content=f"Cancelled.\n{text}",
            view=view,
            allowed_mentions=discord.AllowedMentions.none(),
        )


async def cancel(bot: ReelBot, generation_id: str, user_id: int) -> str | None:
    """Take a request out of the queue and fail its row, or stop its render
    (`intake.cancel`); None when it was taken out, else what to tell the member."""
    done = await cancel_request(
        generation_id,
        store=bot.store,
        moderation_store=bot.moderation_store,
        admission=bot.admission,
        redis=bot.queue,
    )
    if done.outcome != "cancelled" or done.row is None:
        return done.message
    spec = RenderSpec.model_validate(done.row.spec)
    await _mark_status_message(bot, generation_id, spec, user_id)
    return None


async def _mark_status_message(
    bot: ReelBot, generation_id: str, spec: RenderSpec, user_id: int
) -> None:
    """The public "queued" message says it was cancelled, so the channel isn't left waiting."""
    target = await load_target(bot.queue, generation_id)
    await forget_target(bot.queue, generation_id)
    if target is None or target.status_message_id is None:
        return
    message = bot.get_partial_messageable(target.channel_id).get_partial_message(
        target.status_message_id
    )
    text = f"<@{user_id}> cancelled this request · {clip_summary(spec)}\n> {excerpt(spec.prompt)}"
    # deleted meanwhile, or no access any more: nothing left to correct
    with contextlib.suppress(discord.HTTPException):
        await message.edit(content=text, allowed_mentions=discord.AllowedMentions.none())


async def queue_page(bot: ReelBot, user: discord.abc.User) -> tuple[str, discord.ui.View | None]:
    """The member's unfinished requests, one line each, and a Cancel button per queued one."""
    rows = await asyncio.to_thread(bot.community.unfinished_of, member_id(user))
    if not rows:
        return "Nothing of yours is waiting or rendering.", None
    workers = sum((await bot.admission.workers()).values())  # cached by the admission
    lines = [f"Your requests ({len(rows)}):"]
    view = discord.ui.View(timeout=None)
    for number, row in enumerate(rows[:QUEUE_SHOWN], start=1):
        state = await _state_line(bot, row)
        lines.append(f"{number}. {state} · “{excerpt(row.prompt)}”")
        view.add_item(CancelButton(row.id, label=f"Cancel {number}"))
    if len(rows) > QUEUE_SHOWN:
        lines.append(f"…and {len(rows) - QUEUE_SHOWN} more.")
    if workers == 0:
        lines.append("No worker is running right now; requests wait until one starts.")
    return "\n".join(lines), view


async def _state_line(bot: ReelBot, row: Generation) -> str:
    if row.moderation == Moderation.HELD:
        return "held for a moderator's review"
    spec = RenderSpec.model_validate(row.spec)
    if row.status == GenerationStatus.RENDERING:
        work_s = await bot.render_times.work_s(spec)
        if work_s is None or row.started_at is None:
            return "rendering now"
        left = work_s - (datetime.now(UTC) - row.started_at).total_seconds()
        return "rendering now · " + (f"{about(left)} left" if left >= 1 else "almost done")
    position = await bot.submitter.position(row.id)
    if position is None:
        return "waiting"
    where = "next up" if position <= 1 else f"#{position} in the queue"
    eta_s = await bot.admission.eta(row.id, spec)  # queued: its own tier's queue and workers
    return where if eta_s is None else f"{where} · ready in {about(eta_s)}"


# --- the cog ------------------------------------------------------------------------------


def _model_line(bot: ReelBot) -> str:
    caps = bot.model_capabilities
    sizes = ", ".join(
        f"{w}:{h} → {'×'.join(map(str, caps.snap_size(w, h)))}" for w, h in _SHOWN_RATIOS
    )
    return (
        f"Model `{caps.name}`: {sizes}; {caps.default_seconds:g} s by default, "
        f"up to {caps.max_seconds:g} s; {MIN_FPS}–{MAX_FPS} fps (native {caps.native_fps})."
    )


_SHOWN_RATIOS: Sequence[tuple[int, int]] = ((16, 9), (9, 16), (1, 1))


# What a family's workers said they lack (core.fleet.EXTRAS), as /info shows it.
_LACKING = {"sound": "no sound", "voice": "no voice for typed lines"}


def fleet_line(fleet: Fleet) -> str:
    """Each model family with a worker live now: how many, and what they make (and what their
    operator turned off: sound, a typed line's voice)."""
    if not fleet.live:
        return "Workers: none running right now; requests wait until one starts."
    families = []
    for family, w in sorted(fleet.live.items()):
        makes = ", ".join(w.modes) or "nothing announced"
        off = [words for extra, words in _LACKING.items() if lacks(extra, family, fleet.extras)]
        families.append(f"`{family}` ×{w.workers} ({'; '.join([makes, *off])})")
    return "Workers: " + "; ".join(families) + "."


class InfoCog(commands.Cog):
    def __init__(self, bot: ReelBot) -> None:
        self.bot = bot

    @app_commands.command(name="queue")
    async def queue(self, interaction: discord.Interaction[ReelBot]) -> None:
        """Your requests that are waiting or rendering, with Cancel buttons."""
        text, view = await queue_page(interaction.client, interaction.user)
        kwargs: dict[str, Any] = {} if view is None else {"view": view}
        await interaction.response.send_message(
            text, ephemeral=True, allowed_mentions=discord.AllowedMentions.none(), **kwargs
        )

    @app_commands.command(name="info")
    async def info(self, interaction: discord.Interaction[ReelBot]) -> None:
        """Your usage today, limits, default flags, and what the loaded model can do."""
        bot = interaction.client
        who = member_id(interaction.user)
        caps = bot.submitter.limits.caps_for(role_ids(interaction.user))
        live, today = await bot.admission.usage(who)
        defaults = await asyncio.to_thread(bot.community.default_flags, who)
        tier = bot.submitter.limits.tier_for(today)
        lines = [
            f"Today (since 00:00 UTC): {today} of {caps.per_day} clips; {live} of "
            f"{caps.in_flight} waiting or rendering now; your next clip goes to the {tier} queue.",
            f"Your default flags: `{defaults}`"
            if defaults
            else "Your default flags: none (set some with /settings).",
            _model_line(bot),
            fleet_line(await bot.submitter.fleet.fleet()),
        ]
        await interaction.response.send_message(
            "\n".join(lines), ephemeral=True, allowed_mentions=discord.AllowedMentions.none()
        )


async def setup(bot: ReelBot) -> None:
    bot.add_dynamic_items(CancelButton)
    await bot.add_cog(InfoCog(bot))


async def teardown(bot: ReelBot) -> None:
    bot.remove_dynamic_items(CancelButton)
