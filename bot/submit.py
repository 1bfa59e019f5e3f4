"""Turn a validated RenderSpec into a gallery row and a queued arq job: the one way work enters.

The gallery row is written first (the database is the system of record), then the job is
enqueued under the generation id, so retrying a submission can never queue a clip twice.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit, urlunsplit

from arq.connections import ArqRedis, RedisSettings, create_pool
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from bot.errors import ConfigError, QueueUnavailable
from gallery.models import GenerationCreate
from gallery.store import GalleryStore
from worker.events import publish_event
from worker.spec import (
    RENDER_TASK,
    ProgressEvent,
    RenderJob,
    RenderSpec,
    deserialize_job,
    serialize_job,
)

ANONYMOUS = "cli:anonymous"
JOB_EXPIRES = timedelta(days=7)  # a long backlog must not silently drop jobs after arq's 24 h


def redacted(url: str) -> str:
    """The URL without its password, fit for a message or a log line."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username or ''}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


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


def new_generation_id() -> str:
    return uuid.uuid4().hex


class Submitter:
    def __init__(self, pool: ArqRedis, store: GalleryStore, *, queue_name: str) -> None:
        self.pool = pool
        self.store = store
        self.queue_name = queue_name

    async def submit(
        self,
        spec: RenderSpec,
        *,
        generation_id: str | None = None,
        before_enqueue: Callable[[Submission], Awaitable[None]] | None = None,
    ) -> Submission:
        """Record, then enqueue. `before_enqueue` runs in between (e.g. answering the member and
        noting where to deliver), so the clip can never finish before its destination is known.
        """
        gid = generation_id or new_generation_id()
        if not spec.owner_id:
            spec = spec.model_copy(update={"owner_id": ANONYMOUS, "owner_name": "anonymous"})
        row = GenerationCreate.from_spec(gid, spec.model_dump(mode="json"))
        await asyncio.to_thread(self.store.add_generation, row)
        try:
            submission = Submission(gid, await self.pool.zcard(self.queue_name) + 1)
            if before_enqueue is not None:
                await before_enqueue(submission)
            job = RenderJob(generation_id=gid, spec=spec).model_dump(mode="json")
            await self.pool.enqueue_job(
                RENDER_TASK, job, _job_id=gid, _queue_name=self.queue_name, _expires=JOB_EXPIRES
            )
        except BaseException:  # never leave a "queued" row that no job stands behind
            await asyncio.shield(
                asyncio.to_thread(self.store.mark_failed, gid, error="could not be queued")
            )
            raise
        await publish_event(self.pool, gid, ProgressEvent(kind="queued"))
        return submission

    async def position(self, generation_id: str) -> int | None:
        rank = await self.pool.zrank(self.queue_name, generation_id)
        return None if rank is None else rank + 1
