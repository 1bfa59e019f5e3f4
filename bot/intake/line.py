"""At most `INTAKE_LIMIT` requests of one process in progress at once, first come first served.

asyncio runs every request up to its next await before any goes on, so in a burst of 1,000
`/create` the requests move through each step together and all are answered at the end: every
answer as late as the last one. Through the intake the first requests are answered while later
ones wait their turn. A waiting request's `Deferral` is armed before it queues, so one that waits
long gets Discord's "thinking…" in time. The limit leaves room for the answers' round trips to
Discord (~50 ms each), which are made inside the turn.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import discord

from bot.deferral import Deferral

INTAKE_LIMIT = 128


class Intake:
    def __init__(self, limit: int = INTAKE_LIMIT) -> None:
        self._turns = asyncio.Semaphore(limit)

    @contextlib.asynccontextmanager
    async def turn(self, interaction: discord.Interaction[Any]) -> AsyncIterator[None]:
        """Wait for a place, with the interaction's deferral armed while it waits."""
        await Deferral.of(interaction).arm()
        async with self._turns:
            yield
