"""Workers that stall, overrun or lose Redis: the clip still ends exactly once, done or failed.

Real processes throughout. The test environment beats every 0.3 s with a 2.5 s lease
(tests/harness/workers.py), so "dead" and "merely slow" are a couple of seconds apart.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Callable
from pathlib import Path

import pytest
from redis.asyncio import Redis

from cli.local_redis import LocalRedis
from core.capabilities import capabilities_for
from core.flags import parse_request
from core.spec import ProgressEvent, RenderSpec
from gallery.db import make_engine, migrate
from gallery.store import GalleryStore
from intake.submit import connect_queue
from jobs.events import follow_events
from jobs.keys import RESULT_STREAM, heartbeat_key
from tests.harness.waiting import eventually
from tests.harness.workers import WorkerProcesses, reelbot_env, submit_admitted

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]


def slow_spec(seed: int = 21, steps: int = 200) -> RenderSpec:
    """A slow clip for the tiny model: 1024x576, 200 steps at most (tens of seconds on CPU).
    80 steps still outlast a stall, the 2.5 s lease and a Redis restart several times over;
    the whole 200 went only to waiting for the end (a minute and a half of the suite)."""
    spec = parse_request(
        f"a slow harbour at dawn -seed {seed}", capabilities=capabilities_for("tiny")
    )
    return RenderSpec.model_validate(
        {**spec.model_dump(), "steps": steps, "width": 1024, "height": 576}
    )


@pytest.fixture
def store(data_dir: Path) -> GalleryStore:
    engine = make_engine(f"sqlite:///{data_dir / 'reelbot.db'}")
    migrate(engine)
    return GalleryStore(engine)


async def submit(redis_url: str, store: GalleryStore, spec: RenderSpec) -> str:
    return await submit_admitted(redis_url, store, spec)


async def events_of(
    redis_url: str,
    gid: str,
    *,
    until_step: bool = False,
    until: Callable[[list[ProgressEvent]], bool] | None = None,
) -> list[ProgressEvent]:
    """The clip's events from the first: all of them, or up to a denoising step short of the
    last (`until_step`), or up to the first that makes `until(seen)` true."""
    pool = await connect_queue(redis_url)
    seen = []
    try:
        async for event in follow_events(pool, gid, idle_timeout_s=120):
            seen.append(event)
            if until_step and event.kind == "step" and event.step < event.total:
                break
            if until is not None and until(seen):
                break
    finally:
        await pool.aclose()
    return seen


def started(events: list[ProgressEvent]) -> int:
    return [e.kind for e in events].count("started")


async def heartbeats(redis: Redis) -> list[bytes]:
    """The liveness keys of the workers beating now."""
    return [key async for key in redis.scan_iter(match=heartbeat_key("*"))]


async def test_a_render_past_the_deadline_is_retried_then_failed_once(
    redis_server, redis, data_dir, store
) -> None:
    env = reelbot_env(redis_server.url, data_dir, REELBOT_JOB_TIMEOUT_S="1", REELBOT_MAX_TRIES="2")
    workers = WorkerProcesses(env, data_dir.parent / "logs")
    workers.start()
    try:
        gid = await submit(
            redis_server.url,
            store,
            slow_spec(),
        )
        events = await events_of(redis_server.url, gid)
    finally:
        workers.stop_all()
    assert [e.kind for e in events if e.kind in ("started", "done", "failed")] == [
        "started",
        "started",
        "failed",
    ], workers.logs()
    assert "longer than" in events[-1].message
    row = store.get(gid)
    assert row.status == "failed" and row.attempts == 2
    assert len(await redis.xrange(RESULT_STREAM)) == 1
    assert "never retrieved" not in workers.logs()


async def test_a_stall_shorter_than_the_lease_does_not_render_twice(
    redis_server, redis, workers: WorkerProcesses, store
) -> None:
    slow = workers.start()
    workers.start()  # a second worker that could wrongly take the job over
    gid = await submit(redis_server.url, store, slow_spec(steps=80))
    first = await events_of(redis_server.url, gid, until_step=True)
    owner = next(e.worker for e in first if e.kind == "started")
    # Whichever worker rendered it, stall that one for well under the 2.5 s lease.
    victim = slow if str(slow.pid) in owner else workers.processes[1]
    os.kill(victim.pid, signal.SIGSTOP)
    await asyncio.sleep(0.6)  # the stall itself: what is tested, not a wait for something
    os.kill(victim.pid, signal.SIGCONT)
    events = await events_of(redis_server.url, gid)
    assert [e.kind for e in events].count("started") == 1, workers.logs()
    assert events[-1].kind == "done"
    assert store.get(gid).attempts == 1


async def test_a_stall_longer_than_the_lease_hands_over_and_the_stalled_one_stops(
    redis_server, redis, workers: WorkerProcesses, store
) -> None:
    stalled = workers.start()
    gid = await submit(redis_server.url, store, slow_spec(steps=80))
    await events_of(redis_server.url, gid, until_step=True)
    workers.start()
    await eventually(lambda: heartbeats(redis), lambda beating: len(beating) >= 2, timeout=60)
    os.kill(stalled.pid, signal.SIGSTOP)
    # Past the 2.5 s lease the second worker takes the clip over: its own "started".
    async with asyncio.timeout(60):
        await events_of(redis_server.url, gid, until=lambda seen: started(seen) == 2)
    os.kill(stalled.pid, signal.SIGCONT)
    events = await events_of(redis_server.url, gid)
    # the stalled one wakes, notices it lost the lease and stops
    await eventually(workers.logs, lambda logs: "lease lost" in logs, timeout=30)
    kinds = [e.kind for e in events]
    assert kinds.count("done") == 1 and kinds.count("started") == 2, workers.logs()
    assert len(await redis.xrange(RESULT_STREAM)) == 1
    assert "lease lost" in workers.logs()
    assert store.get(gid).status == "done"


async def test_a_redis_restart_mid_render_still_delivers_the_clip_once(
    tmp_path: Path, data_dir: Path, store: GalleryStore
) -> None:
    """Redis killed and restarted (AOF on) while a clip renders; a worker that lost its
    connection is restarted as `reelbot up` or a compose restart policy would."""
    server = LocalRedis(tmp_path / "redis-restart").start()
    workers = WorkerProcesses(reelbot_env(server.url, data_dir), data_dir.parent / "logs")
    try:
        workers.start()
        gid = await submit(server.url, store, slow_spec(steps=80))
        await events_of(server.url, gid, until_step=True)
        # The AOF is fsynced every second: a second on, it holds the job (what is tested is
        # that a restart with the AOF loses nothing, not a crash inside that second).
        await asyncio.sleep(1.0)
        server.kill()
        await asyncio.sleep(1.0)  # down for a second, as a crashed Redis is, then restarted
        server = LocalRedis(server.directory, port=server.port).start()

        def done_or_supervised() -> bool:
            if all(p.poll() is not None for p in workers.processes):
                workers.start()  # the supervisor's job
            return store.get(gid).status == "done"

        await eventually(done_or_supervised, timeout=120, every=0.2, explain=workers.logs)
        pool = await connect_queue(server.url)
        try:
            results = await pool.xrange(RESULT_STREAM)
        finally:
            await pool.aclose()
        assert len(results) == 1
    finally:
        workers.stop_all()
        server.stop()


async def test_cancelling_a_render_stops_it_at_a_step_and_the_worker_takes_the_next(
    redis_server, redis, workers: WorkerProcesses, store
) -> None:
    """`/queue` → Cancel on a clip being rendered: the worker stops denoising within a beat,
    fails the clip once as cancelled, and is free for the next clip at once."""
    from jobs.admission import Admission

    workers.start()
    gid = await submit(redis_server.url, store, slow_spec())
    first = await events_of(redis_server.url, gid, until_step=True)
    assert first[-1].kind == "step" and first[-1].step < first[-1].total
    assert await Admission(redis).cancel(gid) is False  # rendering: asked to stop, not removed
    events = await events_of(redis_server.url, gid)
    assert events[-1].kind == "failed" and events[-1].message == "cancelled by owner"
    steps = [e for e in events if e.kind == "step"]
    assert steps and max(e.step for e in steps) < steps[0].total  # stopped part way
    row = store.get(gid)
    assert row.status == "failed" and row.error == "cancelled by owner"
    assert len(await redis.xrange(RESULT_STREAM)) == 1
    nxt = await submit(redis_server.url, store, slow_spec(seed=5).model_copy(update={"steps": 4}))
    assert (await events_of(redis_server.url, nxt))[-1].kind == "done", workers.logs()
