"""Turn a validated RenderSpec into a gallery row and a queued job: the one way work enters.

First the member's place is reserved under their caps (`Submitter.reserve`; a front end does it
before it answers anyone or reads an upload, so refusals come first and in arrival order). Then
the gallery row is written (the database is the system of record), and the job goes to its
member's queue in the fair scheduler (`jobs.admission`), which feeds arq, taking the reserved
place. Everything is keyed by the generation id, so retrying a submission can never queue a clip
twice; a submission that fails gives its place back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from arq.connections import ArqRedis, RedisSettings, create_pool
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from core import fairshare
from core.errors import ConfigError, QueueUnavailable, QuotaExceeded
from core.fairshare import Caps, Tier
from core.limits import Limits
from core.redaction import redact_url as redacted
from core.spec import ProgressEvent, RenderJob, RenderSpec, deserialize_job, serialize_job
from gallery.models import GenerationCreate
from gallery.store import GalleryStore
from intake.fleet import FleetChoice
from intake.rowwriter import RowWriter
from jobs.admission import Admission, Preview

ANONYMOUS = "cli:anonymous"
T = TypeVar("T")
log = logging.getLogger(__name__)


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


@dataclass(frozen=True)
class Reservation:
    """A request's place under its member's caps, held before anything public is said.

    `caps` None: unlimited (the operator's terminal). `preview` None: nothing was held (unlimited,
    or the job was known already), so there is nothing to give back either."""

    generation_id: str
    caps: Caps | None
    tier: Tier
    preview: Preview | None


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
        self.fleet = FleetChoice(admission.redis)  # which model family renders each request

    async def reserve(
        self,
        spec: RenderSpec,
        *,
        role_ids: Sequence[int] = (),
        unlimited: bool = False,
        generation_id: str | None = None,
    ) -> Reservation:
        """Hold the member's place for a request, or QuotaExceeded (the member's own words):
        before a row is written, an upload read or an answer posted. `spec` needs only its
        owner and guild to be final. `unlimited` is for the operator's own terminal. A mode
        no worker of the fleet offers is refused first, before anything is held."""
        spec = await self.fleet.routed(spec)  # its place previewed in its own family's line
        gid = generation_id or new_generation_id()
        caps = None if unlimited else self.limits.caps_for(role_ids)
        preview = None
        if caps is not None:  # the place and where it would stand: one round trip
            preview = await over_cap_is_users(self.admission.reserve(gid, _owned(spec), caps))
        tier = self.limits.tier_for(preview.today if preview else 0)
        return Reservation(gid, caps, tier, preview)

    async def release(self, reservation: Reservation) -> None:
        """Give the place back: the request failed before its job was queued. Never raises:
        a place Redis can't be told about lapses by itself."""
        if reservation.preview is None:
            return
        try:
            await self.admission.release(reservation.generation_id)
        except Exception as exc:  # the error that made us release matters more
            log.warning(
                "could not release a reserved place (it lapses by itself): %r",
                exc,
                extra={"generation_id": reservation.generation_id},
            )

    async def submit(
        self,
        spec: RenderSpec,
        *,
        role_ids: Sequence[int] = (),
        unlimited: bool = False,
        generation_id: str | None = None,
        reservation: Reservation | None = None,
        after_check: Callable[[], Awaitable[None]] | None = None,
        before_enqueue: Callable[[Submission], Awaitable[None]] | None = None,
    ) -> Submission:
        """Reserve (unless `reservation` holds the place already), record, then queue.
        `before_enqueue` runs in between (e.g. answering the member and noting where to
        deliver), so the clip can never finish before its destination is known.

        A member over a cap gets QuotaExceeded before anything is written; past the
        reservation, only a place that lapsed (`jobs.admission.RESERVATION_TTL`) can still be
        refused. Whatever fails gives the place back. The spec goes to the model family that
        renders its mode (`FleetChoice.routed`).
        """
        spec = await self.fleet.routed(_owned(spec))
        if reservation is None:
            reservation = await self.reserve(
                spec, role_ids=role_ids, unlimited=unlimited, generation_id=generation_id
            )
        gid, tier = reservation.generation_id, reservation.tier
        try:
            if after_check is not None:  # e.g. acknowledging the interaction, now it's allowed
                await after_check()
            row = GenerationCreate.from_spec(gid, spec.model_dump(mode="json"))
            await self.rows.add(row)
            try:
                if reservation.preview is not None:
                    position = reservation.preview.place[tier]
                else:
                    position = await self.admission.preview_position(spec, tier)
                submission = Submission(gid, position, tier)
                if before_enqueue is not None:
                    await before_enqueue(submission)
                job = RenderJob(generation_id=gid, spec=spec)
                queued = ProgressEvent(kind="queued")  # appended with the job, in one round trip
                await over_cap_is_users(
                    self.admission.enqueue(job, caps=reservation.caps, tier=tier, announce=queued)
                )
            except BaseException:  # never leave a "queued" row that no job stands behind
                await asyncio.shield(self._taken_out(reservation))
                await asyncio.shield(
                    asyncio.to_thread(self.store.mark_failed, gid, error="could not be queued")
                )
                raise
        except BaseException:
            await asyncio.shield(self.release(reservation))
            raise
        return submission

    async def _taken_out(self, reservation: Reservation) -> None:
        """Whatever of a failed submission reached Redis taken out: its place given back, and
        its job cancelled if it was queued though the answer was lost on the way (a dropped
        connection), so a clip its member was told was not queued never renders."""
        await self.release(reservation)
        try:
            await self.admission.cancel(reservation.generation_id)
        except Exception as exc:
            log.warning(
                "could not take out a job whose queueing failed: %r",
                exc,
                extra={"generation_id": reservation.generation_id},
            )

    async def position(self, generation_id: str) -> int | None:
        return await self.admission.position(generation_id)


def _owned(spec: RenderSpec) -> RenderSpec:
    """A spec with no owner (the terminal) belongs to `ANONYMOUS`."""
    if spec.owner_id:
        return spec
    return spec.model_copy(update={"owner_id": ANONYMOUS, "owner_name": "anonymous"})


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
