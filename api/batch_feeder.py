"""The batch feeder: a background loop of every API process that turns batch items into clips.

A batch's items were read and screened when it was asked for; they wait in the database
(`gallery.api_batches`). The feeder takes each member's waiting items in order and submits them
exactly as `POST /v1/clips` submits a clip (`intake.submit.Submitter`: a place under the
member's caps, the gallery row, the member's queue in the fair scheduler), as many as the
member has free places. A member at their in-flight cap waits: their next item goes in when a
clip of theirs finishes, so a batch never holds more places than a member asking one clip at a
time could, and the scheduler (`jobs.admission`, `core.fairshare`) shares the workers between
members as it does for everyone. An item over the daily cap is refused in the words Discord
uses; so is one whose member was banned, or whose token was revoked, while it waited.

Any number of API processes feed at once: claims are conditional updates of the head of a
member's line, and an item's clip id is fixed by its batch and position, so an item submitted
twice (its process died before it was marked) is still one clip.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta

from api.asking import admit
from api.context import ApiContext
from api.problems import Problem
from core.errors import QuotaExceeded, UserFacingError
from core.fairshare import QuotaExceeded as OverCap
from core.spec import RenderSpec
from gallery.api_batches import DEFAULT_LEASE, BatchStore, ClaimedItem
from gallery.models import GenerationStatus
from intake.submit import over_cap_is_users

log = logging.getLogger(__name__)

POLL_S = 1.0
STOP_S = 10.0  # how long a stopping feeder may take to finish the item it is submitting
REVOKED = (
    "The token that asked for this batch was revoked before this clip's turn came, so it was "
    "not made. Ask again with a valid token."
)


class BatchFeeder:
    def __init__(
        self, ctx: ApiContext, *, poll_s: float = POLL_S, lease: timedelta = DEFAULT_LEASE
    ) -> None:
        self.ctx = ctx
        self.batches = BatchStore(ctx.engine)
        self.poll_s = poll_s
        self.lease = lease
        self._stopping = False

    async def run(self) -> None:
        """Feed until cancelled; a cancel lets the item being submitted finish first (a clip
        cut off half-way would be recorded as failed)."""
        while True:
            step = asyncio.ensure_future(self.step())
            try:
                await asyncio.shield(step)
            except asyncio.CancelledError:
                self._stopping = True
                with contextlib.suppress(Exception, asyncio.CancelledError):
                    await asyncio.wait_for(step, STOP_S)
                raise
            except Exception:  # a database or Redis blip must not end the loop
                log.exception("batch feeding step failed")
            await asyncio.sleep(self.poll_s)

    async def step(self) -> int:
        """One pass over every member with waiting items; how many items were submitted."""
        members = await asyncio.to_thread(self.batches.waiting_members, lease=self.lease)
        fed = 0
        for member in members:
            if self._stopping:
                break
            fed += await self.feed(member)
        return fed

    async def feed(self, member_id: str) -> int:
        """Submit the member's next items while they have free places."""
        caps = self.ctx.submitter.limits.caps_for(())
        try:
            live, _today = await over_cap_is_users(self.ctx.admission.check(member_id, caps))
            room = caps.in_flight - live
        except QuotaExceeded as exc:
            if exc.cap != "per_day":
                return 0  # at their in-flight cap: the line waits for a place
            room = caps.in_flight  # the day is over: what's claimed is refused below
        if room <= 0:
            return 0
        claimed = await asyncio.to_thread(
            self.batches.claim, member_id, limit=room, lease=self.lease
        )
        fed = 0
        for i, item in enumerate(claimed):
            if self._stopping or not await self.submit(item):
                for later in reversed(claimed[i:]):  # back in line, first last
                    await asyncio.to_thread(self.batches.release, later.batch_id, later.position)
                break
            fed += 1
        return fed

    async def submit(self, item: ClaimedItem) -> bool:
        """Submit one claimed item and mark it; False if it must wait (no place, or the queue
        is unreachable)."""
        gid = item.generation_id
        try:
            error = await self._submitted(item)
        except (QuotaExceeded, OverCap) as exc:
            if exc.cap != "per_day":
                return False
            error = str(exc)
        except UserFacingError as exc:
            error = str(exc)
        except Problem as exc:  # a refusal of the API's own (a prompt that needs review)
            error = exc.detail
        except Exception:
            log.exception("batch item could not be submitted yet", extra={"generation_id": gid})
            return False
        if error is None:
            await asyncio.to_thread(self.batches.mark_submitted, item.batch_id, item.position, gid)
            log.info("batch item submitted", extra={"generation_id": gid})
        else:
            await asyncio.to_thread(self.batches.mark_refused, item.batch_id, item.position, error)
        return True

    async def _submitted(self, item: ClaimedItem) -> str | None:
        """None once the item's clip is queued, or why it won't be (the member's words)."""
        ctx = self.ctx
        gid = item.generation_id
        existing = await asyncio.to_thread(ctx.store.get, gid)
        if existing is not None and existing.status != GenerationStatus.QUEUED:
            return None  # submitted by a process that died before marking it: it is that clip
        token = await asyncio.to_thread(ctx.tokens.get, item.token_id)
        if token is None or token.revoked_at is not None:
            return REVOKED
        spec = RenderSpec.model_validate(item.request["spec"])
        # Screened again (a ban, or new rules, since the batch came), then its place.
        reservation = await admit(ctx, spec, token, gid)
        webhook_url = item.request.get("webhook_url") or item.webhook_url

        async def record(_submission: object) -> None:  # before its job can finish
            await asyncio.to_thread(
                ctx.api_clips.record,
                gid,
                item.token_id,
                webhook_url=webhook_url,
                batch_id=item.batch_id,
            )

        await ctx.submitter.submit(
            spec, reservation=reservation, generation_id=gid, before_enqueue=record
        )
        return None


async def run_feeder(ctx: ApiContext) -> None:
    """The API's loop (`api.app`): batch items into the queue as their members' places free."""
    await BatchFeeder(ctx, poll_s=POLL_S).run()
