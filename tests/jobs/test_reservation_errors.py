"""A place under the caps that `Admission.reserve` took but whose answer never came back (Redis
failed on the way, the request was cancelled): given back at once, not left to lapse after 15
minutes with the member's count today gone for good."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from core.fairshare import Caps, QuotaExceeded
from jobs.admission import Admission
from jobs.keys import flight_key, sched_job_key
from tests.harness.renderjobs import job
from tests.harness.waiting import eventually

pytestmark = pytest.mark.timeout(60)
CAPS = Caps(in_flight=2, per_day=2)


async def test_a_reservation_whose_answer_was_lost_holds_no_place(redis: Any) -> None:
    admission = Admission(redis)
    lost = job("alice", 0)

    async def lost_on_the_way(*args: Any, **kwargs: Any) -> list[int]:
        raise RedisConnectionError("Connection reset by peer")

    admission.places.usage = lost_on_the_way  # type: ignore[method-assign]
    with pytest.raises(RedisConnectionError):  # the member is told something went wrong
        await admission.reserve(lost.generation_id, lost.spec, CAPS)
    later = Admission(redis)
    assert await later.usage("alice") == (0, 0)  # in flight, made today
    for n in (1, 2):  # both of the day's clips are still the member's
        clip = job("alice", n)
        await later.reserve(clip.generation_id, clip.spec, CAPS)


async def test_a_reservation_cancelled_on_its_way_holds_no_place(redis: Any) -> None:
    admission = Admission(redis)
    stuck = asyncio.Event()

    async def slow(*args: Any, **kwargs: Any) -> list[int]:
        await stuck.wait()
        return [0, 0, 0, 1, 1]

    admission.places.usage = slow  # type: ignore[method-assign]
    clip = job("alice", 0)
    asking = asyncio.create_task(admission.reserve(clip.generation_id, clip.spec, CAPS))
    await eventually(lambda: redis.scard(flight_key("alice")), lambda n: n == 1)  # it is held
    asking.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asking
    await eventually(lambda: Admission(redis).usage("alice"), lambda u: u == (0, 0))


async def test_a_place_that_lapsed_costs_nothing_today(redis: Any) -> None:
    """The bot died between reserving and queueing (a restart in a burst): once the place lapses
    the member has all of the day's clips again, and places still held count meanwhile."""
    admission = Admission(redis)
    lost = job("alice", 0)
    await admission.reserve(lost.generation_id, lost.spec, CAPS, ttl=timedelta(milliseconds=50))
    await eventually(lambda: redis.exists(sched_job_key(lost.generation_id)), lambda n: n == 0)
    for n in (1, 2):
        clip = job("alice", n)
        await admission.reserve(clip.generation_id, clip.spec, CAPS)
        await admission.enqueue(clip, caps=CAPS)
    assert await admission.usage("alice") == (2, 2)


async def test_places_held_count_against_the_day(redis: Any) -> None:
    admission = Admission(redis)
    roomy_today = Caps(in_flight=10, per_day=2)
    for n in (0, 1):
        clip = job("alice", n)
        await admission.reserve(clip.generation_id, clip.spec, roomy_today)
    third = job("alice", 2)
    with pytest.raises(QuotaExceeded, match="2 clips today"):
        await admission.reserve(third.generation_id, third.spec, roomy_today)
