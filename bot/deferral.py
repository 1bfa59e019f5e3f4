"""Discord's "thinking…" only when the real answer would miss the 3 s deadline.

A deferred answer costs two calls to Discord (the defer, then the edit that fills it in); the
bot's CPU per `/create` is mostly those calls, so in a burst a defer for every request halves
what one process can take. A `Deferral` arms a timer instead: if the answer is not sent by
`DEFER_AT_S` after Discord created the interaction, the timer defers it; otherwise the answer
goes out as the one and only response. An interaction that is already that old is deferred at once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import discord

DEFER_AT_S = 1.5  # of Discord's 3 s: the rest is for the defer itself to get there
log = logging.getLogger(__name__)
KEY = "reelbot:deferral"  # where the armed Deferral lives in Interaction.extras


def interaction_age(interaction: discord.Interaction[Any], received: float) -> float:
    """Seconds since Discord made the interaction (its id's timestamp), or since this process
    got it (`received`, monotonic) if longer: a host clock running behind can't hide a delay."""
    by_id = (discord.utils.utcnow() - interaction.created_at).total_seconds()
    return max(by_id, time.monotonic() - received)


class Deferral:
    def __init__(self, interaction: discord.Interaction[Any]) -> None:
        self.interaction = interaction
        self.received = time.monotonic()
        self._timer: asyncio.TimerHandle | None = None
        self._task: asyncio.Task[None] | None = None

    @classmethod
    def of(cls, interaction: discord.Interaction[Any]) -> Deferral:
        """The interaction's one Deferral (made on first use), so no step arms a second timer
        beside one still running, and the age counts from the first step that asked."""
        existing = interaction.extras.get(KEY)
        if isinstance(existing, cls):
            return existing
        interaction.extras[KEY] = made = cls(interaction)
        return made

    async def arm(self) -> None:
        """Defer now if the interaction is already old, else when it gets old unanswered
        (a no-op while armed: `settle` disarms)."""
        if self.interaction.response.is_done() or self._timer or self._task is not None:
            return
        self.interaction.extras.setdefault(KEY, self)
        wait = DEFER_AT_S - interaction_age(self.interaction, self.received)
        if wait <= 0:
            self._defer()
            await self.settle()
        else:
            self._timer = asyncio.get_running_loop().call_later(wait, self._defer)

    def _defer(self) -> None:
        if not self.interaction.response.is_done():
            self._task = asyncio.ensure_future(self._send_defer())

    async def _send_defer(self) -> None:
        try:
            await self.interaction.response.defer(thinking=True)
        except Exception as exc:  # the answer that follows tries on its own
            log.warning("could not defer interaction %s: %r", self.interaction.id, exc)

    async def settle(self) -> None:
        """Before answering: no defer will start from now on, and one already sent is done."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._task is not None:
            await asyncio.shield(self._task)


async def settle(interaction: discord.Interaction[Any]) -> None:
    """The interaction's armed Deferral settled, if it has one (before any answer is sent)."""
    deferral = interaction.extras.get(KEY)
    if isinstance(deferral, Deferral):
        await deferral.settle()
