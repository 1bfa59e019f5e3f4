"""A mixed fleet end to end: two real `python -m worker` processes of two model families (tiny,
and wan on its builtin:tiny model) on one Redis and one gallery; a request of each family
reaches a worker of that family, and the fleet each front end reads shows both."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from cli.local_redis import LocalRedis
from core.capabilities import capabilities_for
from core.fairshare import queue_of
from core.flags import parse_request
from gallery.db import make_engine, migrate
from gallery.store import GalleryStore
from intake.submit import admitting_submitter, connect_queue
from jobs.fleet import read_fleet
from tests.harness.waiting import eventually
from tests.harness.workers import WorkerProcesses, reelbot_env

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

SMALL = {"native_pixels": 256 * 128, "default_steps": 2}  # as test_backends_worker: CI's cores
FAMILIES = ("tiny", "wan")


@pytest.fixture
def fleet(redis_server: LocalRedis, redis, tmp_path: Path) -> Iterator[dict[str, WorkerProcesses]]:
    """One worker of each family, sharing the data folder (one gallery, one media folder)."""
    data_dir = tmp_path / "data"
    started = {}
    for family in FAMILIES:
        model = {} if family == "tiny" else {"REELBOT_MODEL": "builtin:tiny"}
        env = reelbot_env(redis_server.url, data_dir, REELBOT_BACKEND=family, **model)
        started[family] = WorkerProcesses(env, tmp_path / f"logs-{family}")
        started[family].start()
    try:
        yield started
    finally:
        for workers in started.values():
            workers.stop_all()


async def test_each_familys_request_reaches_a_worker_of_that_family(
    fleet: dict[str, WorkerProcesses], redis_server: LocalRedis, redis
) -> None:
    data_dir = fleet["tiny"].data_dir
    data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(f"sqlite:///{data_dir / 'reelbot.db'}")
    migrate(engine)
    store = GalleryStore(engine)
    live = await eventually(lambda: read_fleet(redis), lambda f: set(f.live) == set(FAMILIES))
    assert live.live["wan"].modes == capabilities_for("wan").all_modes
    assert await redis.exists(queue_of("fast", "tiny"), queue_of("fast", "wan")) == 0
    pool = await connect_queue(redis_server.url)
    try:
        async with admitting_submitter(pool, store) as submitter:
            gids = {}
            for family, text in [("tiny", "a red kite -len 1 -seed 3"), ("wan", "a boat -len 1")]:
                caps = capabilities_for(family).model_copy(update=SMALL)
                spec = parse_request(text, capabilities=caps, owner_id="cli:ci", owner_name="ci")
                gids[family] = (await submitter.submit(spec, unlimited=True)).generation_id
            for family, gid in gids.items():
                row = await eventually(
                    lambda gid=gid: asyncio.to_thread(store.get, gid),
                    lambda row: row is not None and row.status in ("done", "failed"),
                    timeout=180,
                    every=0.2,
                )
                logs = fleet[family].logs()[-3000:]
                assert row.status == "done", f"{row.error}\n{logs}"
                assert row.backend == family
                # rendered by that family's process: a worker's id is host-pid-suffix
                (proc,) = fleet[family].processes
                assert row.worker.split("-")[-2] == str(proc.pid), (family, row.worker)
    finally:
        await pool.aclose()
        engine.dispose()
