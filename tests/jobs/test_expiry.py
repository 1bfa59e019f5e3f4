"""Scheduler keys a crash or a late click could strand: each one goes, or expires."""

from __future__ import annotations

from datetime import timedelta

import pytest

from core.fairshare import Caps, queue_of
from core.spec import ResultRecord
from jobs.admission import Admission
from jobs.keys import (
    cancel_key,
    flight_key,
    heartbeat_key,
    job_key_prefix,
    sched_job_key,
)
from jobs.results import publish_result_once
from tests.harness.renderjobs import job

pytestmark = pytest.mark.timeout(30)
ROOMY = Caps(in_flight=10, per_day=100)
DEFAULT_QUEUE = queue_of("fast", "tiny")  # a tiny worker's queue: the family of `job`'s clips


async def beat(redis) -> None:
    await redis.set(heartbeat_key("w1"), f'{{"queue": "{DEFAULT_QUEUE}"}}', px=60_000)


async def test_an_in_flight_set_a_crash_strands_expires_with_its_jobs(redis) -> None:
    """A worker that dies for good after arq dropped the job never publishes a result: the
    member's in-flight set must not keep that entry forever."""
    admission = Admission(redis, expires=timedelta(hours=2))
    await beat(redis)
    await admission.enqueue(job("alice", 1), caps=ROOMY)
    assert await redis.ttl(flight_key("alice")) == -1  # only waiting jobs: they wait in a list
    await admission.admit()
    assert 0 < await redis.ttl(flight_key("alice")) <= 2 * 3600
    assert 0 < await redis.ttl(sched_job_key(job("alice", 1).generation_id)) <= 2 * 3600


async def test_cancelling_a_clip_that_just_finished_leaves_no_cancel_key(redis) -> None:
    admission = Admission(redis)
    await beat(redis)
    clip = job("alice", 1)
    gid = clip.generation_id
    await admission.enqueue(clip, caps=ROOMY)
    await admission.admit()
    await publish_result_once(redis, ResultRecord(generation_id=gid, status="done"))
    await redis.zrem(DEFAULT_QUEUE, gid)  # arq is done with it
    await redis.delete(job_key_prefix + gid)

    assert await admission.cancel(gid) is False  # nothing to take out, nothing to stop
    assert await redis.exists(cancel_key(gid)) == 0
