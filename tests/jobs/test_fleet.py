"""The fleet as workers announce it: their heartbeats and the roster of families seen lately."""

from __future__ import annotations

import json
import time

import pytest
from redis.asyncio import Redis

from core.capabilities import capabilities_for
from core.fairshare import queue_of
from jobs.fleet import FamilyWorkers, read_fleet, worker_queue
from jobs.keys import FLEET_KEY, heartbeat_key
from jobs.liveness import Liveness, live_workers

pytestmark = pytest.mark.timeout(30)


def worker(redis: Redis, name: str, family: str) -> Liveness:
    return Liveness(
        redis,
        name,
        interval_s=1,
        lease_s=15,
        queue=worker_queue("reelbot:queue:fast", family),
        family=family,
        modes=capabilities_for(family).all_modes,
    )


async def test_a_beat_announces_the_workers_family_and_modes(redis: Redis) -> None:
    for name, family in [("a", "tiny"), ("b", "tiny"), ("c", "wan")]:
        await worker(redis, name, family).beat()
    beat = json.loads(await redis.get(heartbeat_key("c")))
    assert beat["family"] == "wan"
    assert beat["queue"] == queue_of("fast", "wan")
    assert tuple(beat["modes"]) == capabilities_for("wan").all_modes
    fleet = await read_fleet(redis)
    assert fleet.live == {
        "tiny": FamilyWorkers(2, capabilities_for("tiny").all_modes),
        "wan": FamilyWorkers(1, capabilities_for("wan").all_modes),
    }
    assert fleet.workers() == {"tiny": 2, "wan": 1}
    assert await live_workers(redis) == {queue_of("fast", "tiny"): 2, queue_of("fast", "wan"): 1}


async def test_a_family_seen_five_minutes_ago_is_offered_eleven_minutes_ago_is_not(
    redis: Redis,
) -> None:
    gone = worker(redis, "w", "wan")
    await gone.beat()
    await gone.stop()  # its heartbeat goes; its family stays in the roster
    beat_at = time.time()
    fleet = await read_fleet(redis, now=beat_at + 5 * 60)
    assert fleet.live == {}
    assert fleet.offered() == {"wan": capabilities_for("wan").all_modes}
    assert (await read_fleet(redis, now=beat_at + 11 * 60)).offered() == {}


async def test_a_worker_that_announces_nothing_is_counted_but_offers_nothing(
    redis: Redis,
) -> None:
    await redis.set(heartbeat_key("old"), json.dumps({"queue": "reelbot:queue:fast"}))
    await redis.hset(FLEET_KEY, "junk", b"not json")
    fleet = await read_fleet(redis)
    assert fleet.offered() == {}
    assert await live_workers(redis) == {"reelbot:queue:fast": 1}


def test_a_worker_reads_its_familys_queue_even_by_module_path() -> None:
    """An operator's backend loaded by module path renders the family its capabilities name
    (the specs' `backend`), so it reads and announces that family."""
    from worker.settings import WorkerConfig
    from worker.tasks import family_of, worker_settings

    for backend, family in [("wan", "wan"), ("tests.faults.backends", "tiny")]:
        config = WorkerConfig(redis_url="redis://localhost:6379/0", backend=backend)
        assert family_of(config) == family
        assert worker_settings(config)["queue_name"] == queue_of("fast", family)
    relax = WorkerConfig(
        redis_url="redis://localhost:6379/0", backend="ltx", queue_name="reelbot:queue:relax"
    )
    assert worker_settings(relax)["queue_name"] == "reelbot:queue:relax@ltx"
