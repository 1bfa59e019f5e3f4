"""The one place a failure becomes what the member reads: private, plain, never a traceback."""

from __future__ import annotations

import contextlib
import logging
import uuid
from typing import Any

import discord
from discord import app_commands
from sqlalchemy.exc import OperationalError

from bot.deferral import settle
from bot.metrics import BotMetrics
from core.errors import UserFacingError
from core.text import without_bidi

log = logging.getLogger(__name__)

# Errors whose message is written for the member: ours, and discord.py's argument checks.
# Set in Interaction.extras once a deferred public answer has its text (bot.intake.requests).
ANSWERED = "reelbot:answered"

FRIENDLY = (UserFacingError, app_commands.TransformerError, app_commands.CheckFailure)
# Not the member's doing and not a bug to look up: the database is down or locked.
DATABASE_DOWN = "I can't reach the gallery database right now. Please try again in a minute."


async def answer_error(interaction: discord.Interaction[Any], error: BaseException) -> None:
    """The member's own mistake said plainly; anything else as a reference found in the log."""
    metrics = getattr(interaction.client, "bot_metrics", None)  # a ReelBot's; absent on others
    if isinstance(metrics, BotMetrics):
        metrics.error_reply(error)
    if isinstance(error, FRIENDLY):  # may quote member text: a token, a reason, a file name
        text = without_bidi(str(error))
    elif isinstance(error, OperationalError):
        log.warning("interaction refused: the database is unavailable (%s)", error.orig)
        text = DATABASE_DOWN
    else:
        ref = uuid.uuid4().hex[:6]
        log.error("interaction failed (ref %s)", ref, exc_info=error)
        text = f"Something went wrong (ref {ref}). Please try again in a moment."
    try:
        await settle(interaction)  # a "thinking…" on its way lands before the error does
        if (
            interaction.response.type is discord.InteractionResponseType.deferred_channel_message
            and not interaction.extras.get(ANSWERED)
        ):  # a public "thinking…" the request never filled in: only the private error stays
            with contextlib.suppress(discord.HTTPException):
                await interaction.delete_original_response()
        if interaction.response.is_done():
            await interaction.followup.send(text, ephemeral=True)
        else:
            await interaction.response.send_message(text, ephemeral=True)
    except discord.HTTPException:
        log.warning("could not tell %s about an error: %s", interaction.user.id, text)
