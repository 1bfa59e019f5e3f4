"""Requests the database holds as unfinished but Redis has lost, put back in the queue.

The gallery database is the system of record; Redis only carries work in flight. A Redis that
restarts without its AOF, or a job key that expired, would otherwise leave a row "queued"
forever. Every worker runs this now and then: a queued row (not held for review) older than a
grace period, or a rendering row older than the job deadline, with no trace in Redis (waiting in
the fair scheduler, an arq job, a render in progress or a result) goes back to its member's
queue, uncapped and not counted again. Re-queueing is idempotent (the generation id is the key
everywhere), so any number of workers may reconcile at once.

A clip finished for a Discord member but never posted, whose result Redis no longer has (the
"sent" mark is gone with the rest), is announced again: delivery posts it once (the gallery row
and the message nonce see to that), to its channel as the row names it.
"""

from __future__ import annotations

import asyncio
import logging
import random
from datetime import UTC, datetime, timedelta

from redis.asyncio import Redis

from core.spec import RenderJob, RenderSpec, ResultRecord
from gallery.models import Generation, GenerationStatus, Moderation
from gallery.store import GalleryStore
from jobs.admission import Admission
from jobs.keys import (
    flight_key,
    in_progress_key_prefix,
    job_key_prefix,
    result_key_prefix,
    result_sent_key,
    sched_job_key,
)
from jobs.results import SENT_TTL_S, publish_result_once

log = logging.getLogger(__name__)


async def lost_in_redis(redis: Redis, generation_id: str) -> bool:
    """True when Redis knows nothing of the job: not waiting, not queued, not rendering, no
    result. A scheduler record left behind by a lost arq job is dropped, so it can be re-queued."""
    record = sched_job_key(generation_id)
    async with redis.pipeline(transaction=True) as pipe:
        pipe.hget(record, "state")
        pipe.exists(
            job_key_prefix + generation_id,
            in_progress_key_prefix + generation_id,
            result_key_prefix + generation_id,
        )
        state, in_arq = await pipe.execute()
    if state == b"waiting" or in_arq:
        return False
    if state is not None:  # admitted once, its arq job gone since (expired, or Redis lost it)
        member = await redis.hget(record, "member")
        await redis.delete(record)
        if member is not None:
            await redis.srem(flight_key(member.decode()), generation_id)
    return True


def overdue(row: Generation, now: datetime, *, grace: timedelta, deadline: timedelta) -> bool:
    """A queued row past the grace (its submission can't still be in flight), or a rendering
    one past the job deadline (its worker would have finished or been replaced)."""
    if row.moderation != Moderation.OK:
        return False  # held for review, hidden or removed: not ours to queue
    if row.status == GenerationStatus.QUEUED:
        return now - row.created_at > grace
    return row.status == GenerationStatus.RENDERING and now - row.updated_at > deadline


async def reconcile(
    store: GalleryStore,
    admission: Admission,
    *,
    grace: timedelta = timedelta(minutes=2),
    deadline: timedelta = timedelta(minutes=15),
    now: datetime | None = None,
) -> list[str]:
    """Re-queue every unfinished request Redis has lost; the ids re-queued."""
    now = now or datetime.now(UTC)
    requeued = []
    for row in await asyncio.to_thread(store.list_unfinished):
        if not overdue(row, now, grace=grace, deadline=deadline):
            continue
        if not await lost_in_redis(admission.redis, row.id):
            continue
        job = RenderJob(generation_id=row.id, spec=RenderSpec.model_validate(row.spec))
        await admission.enqueue(job, caps=None)
        log.warning(
            "was %s but Redis had lost it; queued again",
            row.status,
            extra={"generation_id": row.id},
        )
        requeued.append(row.id)
    return requeued


async def reannounce(
    store: GalleryStore,
    redis: Redis,
    *,
    grace: timedelta = timedelta(minutes=2),
    now: datetime | None = None,
) -> list[str]:
    """Announce again every finished, unposted Discord clip whose result Redis lost; the ids."""
    now = now or datetime.now(UTC)
    since = now - timedelta(seconds=SENT_TTL_S) + timedelta(hours=1)  # its mark still alive
    announced = []
    for row in await asyncio.to_thread(store.list_unposted, since):
        finished = row.finished_at or now
        if now - finished < grace or await redis.exists(result_sent_key(row.id)):
            continue  # young, or its result is still on its way to delivery
        record = ResultRecord(
            generation_id=row.id,
            status="done" if row.status == GenerationStatus.DONE else "failed",
            media_path=row.media_path or "",
            message=row.error or "",
        )
        if await publish_result_once(redis, record):
            log.warning(
                "[%s] finished but unposted, and Redis had lost it; announced again", row.id
            )
            announced.append(row.id)
    return announced


async def reconcile_forever(
    store: GalleryStore,
    admission: Admission,
    *,
    every_s: float,
    deadline: timedelta,
    grace: timedelta = timedelta(minutes=2),
) -> None:
    """A worker's background task; jittered so a fleet doesn't reconcile in step."""
    while True:
        await asyncio.sleep(every_s * random.uniform(0.5, 1.5))
        try:
            await reconcile(store, admission, grace=grace, deadline=deadline)
            await reannounce(store, admission.redis, grace=grace)
        except asyncio.CancelledError:
            raise
        except Exception:  # a database or Redis blip: try again next time
            log.exception("reconciling failed")
