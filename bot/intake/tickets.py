"""Letting a request in before anything public is said: bans, the prompt policy, the caps.

A `Ticket` is a request that passed: its member's place under the caps is held
(`intake.submit.Submitter.reserve`), or its prompt was flagged for a moderator, who decides
before any place is taken. Commands that read an upload (`/animate`, `/restyle`) get their
ticket first (`admitted`), so a banned member, a blocked prompt or a member over a cap is
refused before a byte is downloaded, and a request that fails later gives its place back.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.intake.line import Place
from core.errors import UserFacingError
from core.policy import PolicyDecision
from core.spec import RenderSpec
from intake.screening import screen
from intake.submit import Reservation, new_generation_id

if TYPE_CHECKING:
    from bot.app import ReelBot
    from bot.intake.requests import Asker


@dataclass(frozen=True)
class Ticket:
    """A request let through before anything public was said: its place held under the
    member's caps, or (`flagged`) its prompt waiting for a moderator, with no place held."""

    generation_id: str
    reservation: Reservation | None
    flagged: PolicyDecision | None = None


async def admit_request(
    bot: ReelBot,
    spec: RenderSpec,
    asker: Asker,
    *,
    place: Place | None = None,
    generation_id: str | None = None,
    reviewed: bool = False,
) -> Ticket:
    """Bans, the prompt policy (`intake.screening`; skipped when `reviewed`: a moderator
    approved it), then the member's place under their caps, or the refusal that says why.

    Call it before anything public and before any upload is read: `spec` needs only what the
    member typed, their id and the guild to be final. With a `place`, the caps are asked only
    once every earlier request of the member's has had its answer, so the first ones up to
    the cap are the ones kept."""
    gid = generation_id or new_generation_id()
    try:
        try:
            decision = None
            if not reviewed:
                decision = await screen(
                    spec,
                    asker,
                    bans=bot.bans,
                    policy=bot.prompt_policy,
                    toxicity=bot.toxicity_check,
                )
            if decision is not None and decision.decision == "flag":
                return Ticket(gid, None, decision)
            if place is not None:
                await place.wait()
            reservation = await bot.submitter.reserve(
                spec, role_ids=asker.role_ids, generation_id=gid
            )
        finally:
            if place is not None:
                place.done()
    except UserFacingError as exc:  # banned, blocked, over a cap
        bot.bot_metrics.refused(exc)
        raise
    return Ticket(gid, reservation)


@contextlib.asynccontextmanager
async def admitted(
    bot: ReelBot,
    spec: RenderSpec,
    asker: Asker,
    *,
    place: Place | None = None,
    generation_id: str | None = None,
) -> AsyncIterator[Ticket]:
    """`admit_request`, and the place given back if the block fails before the job is queued
    (a download that fails, a file refused)."""
    ticket = await admit_request(bot, spec, asker, place=place, generation_id=generation_id)
    try:
        yield ticket
    except BaseException:
        if ticket.reservation is not None:
            await asyncio.shield(bot.submitter.release(ticket.reservation))
        raise
