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
A member's requests also take their turns in that order: a request holding a turn may wait for
the one ahead of it, so the one ahead must never be left without a turn (its "thinking…" still
on its way while the later ones took them all: no request would move again).
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
        # only the one ahead's futures are kept, not the place: no chain of every earlier request
        self._ahead = None if behind is None else behind._answered
        self._ahead_turn = None if behind is None else behind._turn
        loop = asyncio.get_running_loop()
        self._answered: asyncio.Future[None] = loop.create_future()
        self._turn: asyncio.Future[None] = loop.create_future()

    async def wait(self) -> None:
        """Until every earlier request of the member has had its answer (`done`)."""
        await _until(self._ahead)

    async def wait_turn(self) -> None:
        """Until every earlier request of the member has its turn (`in_turn`) or is done."""
        await _until(self._ahead_turn)

    def in_turn(self) -> None:
        """This request holds a turn: the next one may ask for one."""
        if not self._turn.done():
            self._turn.set_result(None)

    def done(self) -> None:
        """This request has its answer from the caps (or failed before): the next may go."""
        self.in_turn()
        if not self._answered.done():
            self._answered.set_result(None)


async def _until(ahead: asyncio.Future[None] | None) -> None:
    if ahead is not None:
        await asyncio.shield(ahead)  # giving up here must not end the one ahead


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
        """Its member's place, then a turn among all requests (after their earlier ones took
        theirs), with the interaction's deferral armed while it waits."""
        with self.place(interaction) as place:
            await Deferral.of(interaction).arm()
            await place.wait_turn()
            async with self._turns:
                place.in_turn()
                yield place
