"""First come, first served: requests take turns with all others, and with their member's own.

At most `INTAKE_LIMIT` requests of one process are in progress at once. asyncio runs every
request up to its next await before any goes on, so in a burst of 1,000 `/create` the requests
move through each step together and all are answered at the end: every answer as late as the
last one. Through the intake the first requests are answered while later ones wait their turn. A
waiting request's `Deferral` is armed before it queues, so one that waits long gets Discord's
"thinking…" in time. The limit leaves room for the answers' round trips to Discord (~50 ms each),
which are made inside the turn.

A member's own requests also reach their caps in the order they arrived: each takes a `Place`
behind their earlier ones the moment it arrives (before its first await), and reserves its
place under the caps (`bot.intake.requests.admit_request`) only once every earlier one has had
its answer. Otherwise steps that take varying time (the abuse classifier in a thread, a cache
load) would reorder them, and of eight simultaneous requests an arbitrary four would be kept.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from typing import Any

import discord

from bot.deferral import Deferral

INTAKE_LIMIT = 128


class Place:
    """A request's place among its member's requests, right behind `behind` (their latest)."""

    def __init__(self, behind: Place | None = None) -> None:
        # only the one ahead's answer is kept, not the place: no chain of every earlier request
        self._ahead = None if behind is None else behind._answered
        self._answered: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    async def wait(self) -> None:
        """Until every earlier request of the member has had its answer (`done`)."""
        if self._ahead is not None:
            await asyncio.shield(self._ahead)  # giving up here must not end the one ahead

    def done(self) -> None:
        """This request has its answer from the caps (or failed before): the next may go."""
        if not self._answered.done():
            self._answered.set_result(None)


class Intake:
    def __init__(self, limit: int = INTAKE_LIMIT) -> None:
        self._turns = asyncio.Semaphore(limit)
        self._last: dict[int, Place] = {}  # each member's latest place

    @contextlib.contextmanager
    def place(self, interaction: discord.Interaction[Any]) -> Iterator[Place]:
        """The request's place behind its member's earlier ones: enter it before any await.
        Done at the latest when the block ends, however it ends."""
        member = interaction.user.id
        place = self._last[member] = Place(self._last.get(member))
        try:
            yield place
        finally:
            place.done()
            if self._last.get(member) is place:
                del self._last[member]

    @contextlib.asynccontextmanager
    async def turn(self, interaction: discord.Interaction[Any]) -> AsyncIterator[Place]:
        """Its member's place, then a turn among all requests, with the interaction's deferral
        armed while it waits."""
        with self.place(interaction) as place:
            await Deferral.of(interaction).arm()
            async with self._turns:
                yield place
