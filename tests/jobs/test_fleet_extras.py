"""Workers announce the extras their own models make (sound, a typed line's voice) beside their
modes; a worker from before that announced none and counts as making them all."""

from __future__ import annotations

import json
import time

import pytest
from redis.asyncio import Redis

from core.capabilities import capabilities_for
from core.fleet import EXTRAS
from jobs.fleet import read_fleet, worker_queue
from jobs.keys import FLEET_KEY, heartbeat_key
from jobs.liveness import Liveness

pytestmark = pytest.mark.timeout(30)


def worker(redis: Redis, name: str, family: str, extras: tuple[str, ...] | None) -> Liveness:
    return Liveness(
        redis,
        name,
        interval_s=1,
        lease_s=15,
        queue=worker_queue("reelbot:queue:fast", family),
        family=family,
        modes=capabilities_for(family).all_modes,
        extras=extras,
    )


async def test_a_beat_announces_what_its_worker_makes_beside_its_modes(redis: Redis) -> None:
    await worker(redis, "a", "tiny", ("voice",)).beat()  # REELBOT_SOUND_MODEL=off
    assert json.loads(await redis.get(heartbeat_key("a")))["extras"] == ["voice"]
    assert json.loads(await redis.hget(FLEET_KEY, "tiny"))["extras"] == ["voice"]
    assert (await read_fleet(redis)).extras == {"tiny": ("voice",)}


async def test_a_worker_that_says_nothing_of_extras_makes_them_all(redis: Redis) -> None:
    """A worker from before extras were announced: its -sound clips were never refused."""
    await worker(redis, "old", "ltx", None).beat()
    beat = json.loads(await redis.get(heartbeat_key("old")))
    assert "extras" not in beat
    assert (await read_fleet(redis)).extras == {"ltx": EXTRAS}


async def test_a_family_makes_what_any_of_its_live_workers_makes(redis: Redis) -> None:
    await worker(redis, "off", "tiny", ()).beat()
    await worker(redis, "on", "tiny", ("sound",)).beat()
    assert (await read_fleet(redis)).extras == {"tiny": ("sound",)}


async def test_a_family_seen_lately_makes_what_its_last_beat_said(redis: Redis) -> None:
    gone = worker(redis, "w", "wan", ())
    await gone.beat()
    await gone.stop()  # its heartbeat goes; the roster keeps what it said
    assert (await read_fleet(redis, now=time.time() + 60)).extras == {"wan": ()}
