"""What a busy evening leaves in Redis: 500 clips through the real path, then the keys left.

Clips go the way they go in production, short of the render itself: the bot's admission
(`jobs.admission`, caps, the "queued" event), arq workers running the real `render_clip` (claim,
lease, retry or fail, announce) on `worker_settings`, and the bot's delivery consumer reading,
"posting" and acknowledging every result. Only `make_clip`, the slow part, is a stand-in that
writes to Redis what the real one writes: its progress events, then its result. Some clips fail,
some are retried, some are cancelled while they wait, and some as they finish.

Once every result is delivered, what is left must not grow with the number of clips: a few keys
of fixed names, a few per member, and per-clip keys only where they expire within minutes.
"""

from __future__ import annotations

import asyncio
import functools
import re
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
from arq.worker import Worker
from redis.asyncio import Redis

from bot.delivery.consumer import GROUP, Delivery
from core.fairshare import Caps, FairShare
from core.spec import ProgressEvent, RenderJob
from gallery.db import make_engine, migrate
from gallery.media import LocalMediaStore
from gallery.models import GenerationCreate
from gallery.store import GalleryStore
from jobs.admission import DAY_TTL, Admission
from jobs.events import FINISHED_TTL_S, publish_event, read_event
from jobs.fleet import worker_queue
from jobs.keys import RESULT_STREAM, events_key, flight_key
from jobs.liveness import Liveness
from jobs.results import SENT_TTL_S
from tests.harness.renderjobs import job
from tests.harness.waiting import eventually
from worker import tasks
from worker.announce import announce_done, publish_progress
from worker.metrics import WorkerMetrics
from worker.settings import WorkerConfig

pytestmark = pytest.mark.timeout(300)

CLIPS, MEMBERS, GUILDS, WORKERS = 500, 30, 3, 2
SHARE = FairShare(extra_depth=2)
CAPS = Caps(in_flight=40, per_day=1000)
# Per-clip keys that outlive FINISHED_TTL_S, each bounded, and why:
LONGER_LIVED = {
    # the "sent" mark: a result is appended once, whatever retries and re-announcements happen
    # (worker.reconcile.reannounce reads it for a week; see jobs.results)
    "reelbot:result-sent:<gid>": SENT_TTL_S,
    # arq keeps a finished job's outcome for `keep_result` (worker.tasks.worker_settings)
    "arq:result:<gid>": tasks.worker_settings(WorkerConfig(redis_url="redis://-"))["keep_result"],
    # a member's submissions today, for the daily cap: one per member and day, not per clip
    "reelbot:sched:day:cli:<member>:<day>": int(DAY_TTL.total_seconds()),
}
# Keys of fixed names that may stay without an expiry.
FOREVER = {"reelbot:results", "reelbot:sched:cursor", "reelbot:sched:render-s"}
# one entry per model family, not per clip: the families ever queued, and the fleet roster
FOREVER |= {"reelbot:sched:families", "reelbot:fleet"}


def pattern(key: str) -> str:
    """The key with its generation id, member and day replaced by their names."""
    key = re.sub(r"[0-9a-f]{32}", "<gid>", key)
    key = re.sub(r"member\d+", "<member>", key)
    return re.sub(r":\d{8}$", ":<day>", key)


def clip(n: int) -> RenderJob:
    """The evening's n-th clip: its member's, in one of the guilds, asked from the terminal."""
    return job(f"cli:member{n % MEMBERS:02d}", n, guild=n % GUILDS)


def started(entries: list[tuple[bytes, dict[bytes, bytes]]]) -> bool:
    return any(read_event(fields).kind == "started" for _, fields in entries)


def clip_fate(n: int) -> str:
    return {0: "fails", 1: "retried"}.get(n % 50, "done") if n % 25 != 7 else "cancelled"


async def quick_clip(ctx: dict[str, Any], job: RenderJob, attempt: int) -> dict[str, Any]:
    """`worker.render.make_clip` without the render: the same events, row updates and result."""
    gid, spec = job.generation_id, job.spec
    store: GalleryStore = ctx["store"]
    redis = ctx["redis"]
    worker = ctx["liveness"].worker_id
    await asyncio.to_thread(store.mark_rendering, gid, worker=worker, attempt=attempt)
    started = ProgressEvent(kind="started", total=spec.steps, attempt=attempt, worker=worker)
    await publish_progress(redis, gid, started)
    for step in range(1, spec.steps + 1):
        await publish_progress(redis, gid, ProgressEvent(kind="step", step=step, total=spec.steps))
    fate = clip_fate(spec.seed)
    if fate == "fails":
        raise ValueError("these settings can't be rendered")  # permanent: failed at once
    if fate == "retried" and attempt == 1:
        raise RuntimeError("a CUDA hiccup")  # retried
    await publish_progress(redis, gid, ProgressEvent(kind="encoding", attempt=attempt))
    timings = {"denoise": 0.01, "encode": 0.01}
    path = f"{gid[:2]}/{gid}.mp4"
    await asyncio.to_thread(store.mark_done, gid, media_path=path, size_bytes=1, timings=timings)
    await announce_done(ctx, gid, path)
    return {"status": "done", "generation_id": gid}


class Evening:
    """The worker and bot processes' long-lived parts, in this event loop."""

    def __init__(self, redis_url: str, store: GalleryStore, media: LocalMediaStore) -> None:
        self.redis_url = redis_url
        self.store = store
        self.media = media
        self.tasks: list[asyncio.Task[Any]] = []
        self.workers: list[Worker] = []
        self.clients: list[Redis] = []

    async def start_worker(self, n: int) -> None:
        config = WorkerConfig(
            redis_url=self.redis_url, poll_delay_s=0.01, heartbeat_s=0.2, lease_s=5, max_tries=3
        )

        async def startup(ctx: dict[str, Any]) -> None:  # worker.tasks.startup, minus the model
            ctx.update(metrics=WorkerMetrics(), store=self.store, media=self.media)
            ctx.update(unreported=set(), load_s=0.0)
            liveness = Liveness(
                ctx["redis"],
                f"gpu-{n}",
                interval_s=config.heartbeat_s,
                lease_s=config.lease_s,
                queue=worker_queue(config.queue_name, config.backend),
                family=config.backend,
            )
            ctx["liveness"] = liveness
            ctx["liveness_task"] = asyncio.create_task(liveness.run())
            ctx["admission"] = Admission(ctx["redis"], share=SHARE)
            ctx["admission_task"] = asyncio.create_task(ctx["admission"].run())

        settings = tasks.worker_settings(config)
        settings.update(on_startup=startup, handle_signals=False)
        worker = Worker(**settings)
        self.workers.append(worker)
        self.tasks.append(asyncio.create_task(worker.async_run()))

    async def start_bot(self) -> Admission:
        redis = Redis.from_url(self.redis_url)
        self.clients.append(redis)
        admission = Admission(redis, share=SHARE)
        delivery = Delivery(
            None,  # type: ignore[arg-type]  # no clip here has a Discord target
            redis,
            self.store,
            self.media,
            public_url="http://gallery.test",
            admission=admission,
        )
        self.tasks += [asyncio.create_task(admission.run()), asyncio.create_task(delivery.run())]
        return admission

    async def stop(self) -> None:
        for worker in self.workers:
            await worker.close()  # its clip finished, its heartbeat deleted, as on SIGTERM
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        for client in self.clients:
            await client.aclose()


@pytest.fixture
async def evening(redis_server, redis, tmp_path: Path, monkeypatch):
    monkeypatch.setattr(tasks, "make_clip", quick_clip)
    engine = make_engine(f"sqlite:///{tmp_path / 'reelbot.db'}")
    migrate(engine)
    stack = Evening(redis_server.url, GalleryStore(engine), LocalMediaStore(tmp_path / "media"))
    yield stack
    await stack.stop()
    engine.dispose()


async def leftovers(redis: Redis) -> dict[str, tuple[int, int, int]]:
    """Every key by pattern: (how many, the longest time to live in s (-1: never expires), the
    bytes they take)."""
    found: dict[str, list[tuple[int, int]]] = defaultdict(list)
    async for raw in redis.scan_iter(count=1000):
        key = raw.decode()
        found[pattern(key)].append((await redis.ttl(key), await redis.memory_usage(key) or 0))
    return {
        p: (
            len(keys),
            -1 if -1 in (t for t, _ in keys) else max(t for t, _ in keys),
            sum(b for _, b in keys),
        )
        for p, keys in found.items()
    }


async def test_five_hundred_finished_clips_leave_redis_as_they_found_it(redis, evening) -> None:
    for n in range(WORKERS):
        await evening.start_worker(n)
    bot = await evening.start_bot()
    cancelled: list[str] = []

    async def cancel(gid: str) -> None:  # as /queue's Cancel does (bot.cogs.info.cancel)
        if await bot.cancel(gid):
            await asyncio.to_thread(evening.store.mark_failed, gid, error="cancelled")
            await publish_event(redis, gid, ProgressEvent(kind="failed", message="cancelled"))
            cancelled.append(gid)

    for n in range(CLIPS):
        gid = clip(n).generation_id
        spec = clip(n).spec.model_dump(mode="json")
        await asyncio.to_thread(evening.store.add_generation, GenerationCreate.from_spec(gid, spec))
        queued = ProgressEvent(kind="queued")
        tier = "relax" if n % 10 == 3 else "fast"
        await bot.enqueue(clip(n), caps=CAPS, tier=tier, announce=queued)
        if clip_fate(n) == "cancelled":
            await cancel(gid)  # while it waits
        if n % 100 == 52:  # and one as it renders (or has just finished)
            await eventually(functools.partial(redis.xrange, events_key(gid)), started, timeout=60)
            await cancel(gid)

    def delivered(groups: list[dict[str, Any]]) -> bool:
        return bool(groups) and groups[0]["entries-read"] == CLIPS - len(cancelled)

    await eventually(lambda: redis.xinfo_groups(RESULT_STREAM), delivered, timeout=240)
    assert cancelled  # (the clips cancelled as they rendered ran to the end)
    await eventually(lambda: redis.xpending(RESULT_STREAM, GROUP), lambda p: p["pending"] == 0)
    await evening.stop()

    rows = [evening.store.get(clip(n).generation_id) for n in range(CLIPS)]
    assert {row.status for row in rows if row is not None} == {"done", "failed"}
    left = await leftovers(redis)
    growing = {
        p: (count, ttl)
        for p, (count, ttl, _bytes) in left.items()
        if (ttl == -1 and p not in FOREVER) or ttl > LONGER_LIVED.get(p, FINISHED_TTL_S)
    }
    assert growing == {}, (
        f"left after {CLIPS} clips (pattern: (keys, longest TTL s, bytes)): {left}"
    )
    assert await redis.xlen(RESULT_STREAM) == 0  # every result delivered, none kept
    assert not [k async for k in redis.scan_iter(match=flight_key("*"))]
