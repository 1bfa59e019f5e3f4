"""Turn a validated RenderSpec into a gallery row and a queued job: the one way work enters.

The gallery row is written first (the database is the system of record), then the job goes to
its member's queue in the fair scheduler (`jobs.admission`), which feeds arq; everything is keyed
by the generation id, so retrying a submission can never queue a clip twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from arq.connections import ArqRedis, RedisSettings, create_pool
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from bot.intake.rowwriter import RowWriter
from core import fairshare
from core.errors import ConfigError, QueueUnavailable, QuotaExceeded
from core.fairshare import Tier
from core.limits import Limits
from core.redaction import redact_url as redacted
from core.spec import ProgressEvent, RenderJob, RenderSpec, deserialize_job, serialize_job
from gallery.models import GenerationCreate
from gallery.store import GalleryStore
from jobs.admission import Admission

ANONYMOUS = "cli:anonymous"
T = TypeVar("T")


async def connect_queue(redis_url: str, *, timeout_s: float = 5.0) -> ArqRedis:
    """An arq pool with JSON jobs, or QueueUnavailable naming the URL (never a stack trace)."""
    try:
        settings = RedisSettings.from_dsn(redis_url)
    except (RuntimeError, ValueError):
        raise ConfigError(
            f"REELBOT_REDIS_URL={redacted(redis_url)!r} is not a Redis URL; "
            "it should look like redis://[:password@]host:6379/0 (rediss:// for TLS)."
        ) from None
    settings.conn_timeout = max(1, int(timeout_s))
    settings.conn_retries = 0
    try:
        # Bounded as a whole: a server that accepts the connection but never answers must
        # not hang the caller.
        pool = await asyncio.wait_for(
            create_pool(
                settings, job_serializer=serialize_job, job_deserializer=deserialize_job, retry=0
            ),
            timeout_s,
        )
        await asyncio.wait_for(pool.ping(), timeout_s)
    except (RedisConnectionError, RedisTimeoutError, OSError, TimeoutError) as exc:
        raise QueueUnavailable(
            f"Can't reach Redis at {redacted(redis_url)} ({exc.__class__.__name__}). "
            "Start it, fix REELBOT_REDIS_URL, or run `reelbot up`, which starts its own."
        ) from None
    return pool


@dataclass(frozen=True)
class Submission:
    generation_id: str
    position: int  # 1 = next to render (counting clips already rendering)
    tier: Tier = "fast"


async def over_cap_is_users(call: Awaitable[T]) -> T:
    """The scheduler's refusal, re-raised as the error the member is shown."""
    try:
        return await call
    except fairshare.QuotaExceeded as exc:
        raise QuotaExceeded(str(exc), cap=exc.cap, used=exc.used) from None


def new_generation_id() -> str:
    return uuid.uuid4().hex


class Submitter:
    """Records a request, then hands it to the fair scheduler (never straight to arq)."""

    def __init__(
        self,
        pool: ArqRedis,
        store: GalleryStore,
        admission: Admission,
        *,
        limits: Limits | None = None,
    ) -> None:
        self.pool = pool
        self.store = store
        self.rows = RowWriter(store)  # group commit: a burst costs a few transactions
        self.admission = admission
        self.limits = limits or Limits()

    async def submit(
        self,
        spec: RenderSpec,
        *,
        role_ids: Sequence[int] = (),
        unlimited: bool = False,
        generation_id: str | None = None,
        after_check: Callable[[], Awaitable[None]] | None = None,
        before_enqueue: Callable[[Submission], Awaitable[None]] | None = None,
    ) -> Submission:
        """Check the member's caps, record, then queue. `before_enqueue` runs in between (e.g.
        answering the member and noting where to deliver), so the clip can never finish before
        its destination is known. `unlimited` is for the operator's own terminal.

        A member over a cap gets QuotaExceeded before anything is written.
        """
        gid = generation_id or new_generation_id()
        if not spec.owner_id:
            spec = spec.model_copy(update={"owner_id": ANONYMOUS, "owner_name": "anonymous"})
        caps = None if unlimited else self.limits.caps_for(role_ids)
        preview = None
        if caps is not None:  # the caps and the place in line: one round trip
            preview = await over_cap_is_users(self.admission.check_and_preview(spec, caps))
        tier = self.limits.tier_for(preview.today if preview else 0)
        if after_check is not None:  # e.g. acknowledging the interaction, now that it's allowed
            await after_check()
        row = GenerationCreate.from_spec(gid, spec.model_dump(mode="json"))
        await self.rows.add(row)
        try:
            if preview is not None:
                position = preview.place[tier]
            else:
                position = await self.admission.preview_position(spec, tier)
            submission = Submission(gid, position, tier)
            if before_enqueue is not None:
                await before_enqueue(submission)
            job = RenderJob(generation_id=gid, spec=spec)
            queued = ProgressEvent(kind="queued")  # appended with the job, in one round trip
            await over_cap_is_users(
                self.admission.enqueue(job, caps=caps, tier=tier, announce=queued)
            )
        except BaseException:  # never leave a "queued" row that no job stands behind
            await asyncio.shield(
                asyncio.to_thread(self.store.mark_failed, gid, error="could not be queued")
            )
            raise
        return submission

    async def position(self, generation_id: str) -> int | None:
        return await self.admission.position(generation_id)


@contextlib.asynccontextmanager
async def admitting_submitter(
    pool: ArqRedis, store: GalleryStore, *, limits: Limits | None = None
) -> AsyncIterator[Submitter]:
    """A Submitter with its own admission loop, for a front end that runs alone (the terminal,
    benchmarks): without a loop somewhere, queued jobs would never reach a worker."""
    admission = Admission(pool)
    loop = asyncio.create_task(admission.run())
    try:
        yield Submitter(pool, store, admission, limits=limits)
    finally:
        loop.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await loop
