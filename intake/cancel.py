"""Cancelling a request its owner no longer wants, the same from every front end.

Through the fair scheduler (`jobs.admission.cancel`): a job still waiting, or queued in arq with
no worker on it, is taken out in one Lua script, its row failed with `core.spec.CANCELLED` and a
"failed" event published; a job being rendered gets a cancel key that its worker checks at every
denoising step, so the GPU is freed at once (the worker then fails the row with the same words).
A request held for a moderator was never queued: it is withdrawn from review instead.

Who may cancel is the caller's to check (the owner only); what the member is told is the
front end's (`MESSAGES` holds the words both use).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Literal

from redis.asyncio import Redis

from core.spec import CANCELLED, ProgressEvent
from gallery.models import Generation, GenerationStatus, Moderation
from gallery.moderation import ModerationStore
from gallery.store import GalleryStore
from jobs.admission import Admission
from jobs.events import publish_event

Outcome = Literal["cancelled", "stopping", "finished", "decided"]
# What the member reads for each outcome but "cancelled" (the front end says that its way).
MESSAGES: dict[Outcome, str] = {
    "finished": "That request has already finished.",
    "decided": "A moderator has just decided on that request.",
    "stopping": "Stopping it: the render ends at its next step and frees the GPU.",
}


@dataclass(frozen=True)
class Cancelled:
    outcome: Outcome
    row: Generation | None  # as it was before the cancel

    @property
    def message(self) -> str:
        return MESSAGES.get(self.outcome, "Cancelled.")


async def cancel_request(
    generation_id: str,
    *,
    store: GalleryStore,
    moderation_store: ModerationStore,
    admission: Admission,
    redis: Redis,
) -> Cancelled:
    """Take the request out of the queue (or out of review) and fail its row, or ask its
    worker to stop; what happened, for the caller to tell the member."""
    row = await asyncio.to_thread(store.get, generation_id)
    if row is None or row.status in (GenerationStatus.DONE, GenerationStatus.FAILED):
        return Cancelled("finished", row)
    if row.moderation == Moderation.HELD:  # never queued: withdraw it from review instead
        if not await asyncio.to_thread(
            moderation_store.transition, generation_id, (Moderation.HELD,), Moderation.REMOVED
        ):
            return Cancelled("decided", row)
    elif not await admission.cancel(generation_id):
        # A worker has it: it stops at its next denoising step and reports the clip failed.
        return Cancelled("stopping", row)
    await asyncio.to_thread(store.mark_failed, generation_id, error=CANCELLED)
    await publish_event(redis, generation_id, ProgressEvent(kind="failed", message=CANCELLED))
    return Cancelled("cancelled", row)
