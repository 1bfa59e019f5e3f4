"""Issue 7's faults and issue 17's upload bomb, one trial each, on a whole install
(tests/faults/rig.py): a member still gets every clip exactly once, or a plain reason, and
nothing they were told is queued is lost.

The same trials run N times in `bench/faults.py`, which prints the figures; here each runs once
(a worker starting costs about 8 s of this suite's time on two cores, so tests that need the
same kind of install share one).
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from bot.replies import DATABASE_DOWN
from tests.faults.backends import OUT_OF_MEMORY, POISON
from tests.faults.rig import Rig, Trial
from tests.faults.scenarios import (
    KILL_POINTS,
    RESTYLING,
    bot_kill,
    db_down,
    db_locked,
    failing_job,
    one_worker,
    redis_kill,
    two_workers,
    upload_bomb,
    worker_kill,
)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

QUEUED = 4  # requests waiting in Redis when it dies (the bench queues 50)
OUTAGE_S = 3.0  # the database outages (the bench: 30 s)


def check(
    trial: Trial, rig: Rig, *, asked: int, delivered: int, told: int = 0, recovery_s: float = 60
) -> None:
    """Every request answered once, as the scenario expects, within `recovery_s`."""
    detail = f"{trial}\n--- worker logs ---\n{rig.logs()[-6000:]}"
    assert trial.problems == [], detail
    assert (trial.asked, trial.delivered, trial.told) == (asked, delivered, told), detail
    assert trial.lost == 0 and trial.duplicates == 0, detail
    assert trial.recovery_s is not None and trial.recovery_s < recovery_s, detail


async def test_a_worker_killed_at_a_random_step_still_delivers_its_clip_once(
    tmp_path: Path,
) -> None:
    async with Rig(tmp_path) as rig:
        await two_workers(rig)
        trial = await worker_kill(rig, random.Random(7))
        check(trial, rig, asked=1, delivered=1, recovery_s=30)  # the lease is 2.5 s here


async def test_a_bot_killed_between_posting_and_acking_posts_each_clip_once(
    tmp_path: Path,
) -> None:
    async with Rig(tmp_path) as rig:
        await one_worker(rig)
        for point in KILL_POINTS:
            trial = await bot_kill(rig, random.Random(), point=point)
            check(trial, rig, asked=1, delivered=1, recovery_s=10)
        # killed after the post, the fresh bot posted again: Discord matched the nonce
        assert [e.kind for e in rig.fake.log].count("dedup") == 1


async def test_redis_killed_with_its_aof_keeps_every_queued_request(tmp_path: Path) -> None:
    async with Rig(tmp_path, appendonly=True) as rig:
        trial = await redis_kill(rig, QUEUED)
        check(trial, rig, asked=QUEUED, delivered=QUEUED)


async def test_redis_killed_without_aof_the_reconciler_queues_every_request_again(
    tmp_path: Path,
) -> None:
    """Redis comes back empty: the rows still say "queued", so a worker's reconciler queues
    them again, and the bot posts each where it was asked (the targets were in Redis too)."""
    options = {"REELBOT_RECONCILE_S": "1", "REELBOT_RECONCILE_GRACE_S": "2"}
    async with Rig(tmp_path, appendonly=False, **options) as rig:
        trial = await redis_kill(rig, QUEUED)
        check(trial, rig, asked=QUEUED, delivered=QUEUED)


async def test_the_database_unavailable_loses_no_request(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Write-locked (everyone waits, then goes on), then down for the bot (new requests are
    refused with a reason; a finished clip waits and is posted once it is back)."""
    # a record left pending is taken up again after this idle time (60 s in production)
    monkeypatch.setattr("bot.delivery.consumer.CLAIM_IDLE_MS", 500)
    async with Rig(tmp_path) as rig:
        await one_worker(rig)
        locked = await db_locked(OUTAGE_S, during=2)(rig, random.Random())
        check(locked, rig, asked=3, delivered=3, recovery_s=20)

        down = await db_down(OUTAGE_S, during=2)(rig, random.Random())
        check(down, rig, asked=3, delivered=1, told=2, recovery_s=20)
        assert down.notes == [f"refused: {DATABASE_DOWN!r}"]


async def test_a_job_that_fails_tells_its_member_why_and_the_worker_takes_the_next(
    tmp_path: Path,
) -> None:
    """Out of GPU memory: failed at once (a retry would need the same memory), the member told
    to make it shorter. A poison job: failed after max tries (3 here), the member told so. The
    same worker process renders the clip asked right behind each."""
    async with Rig(tmp_path) as rig:
        await one_worker(rig)
        oom = await failing_job(OUT_OF_MEMORY, said="ran out of memory", attempts=1)(
            rig, random.Random()
        )
        check(oom, rig, asked=1, delivered=0, told=1, recovery_s=20)
        poison = await failing_job(POISON, said="failed 3 times", attempts=3)(rig, random.Random())
        check(poison, rig, asked=1, delivered=0, told=1, recovery_s=30)


async def test_an_upload_bomb_tells_its_member_once_and_the_worker_restyles_the_next(
    tmp_path: Path,
) -> None:
    """A 60 KB /restyle upload whose frames grow to 4352×4352 under a 96×64 header (the bot
    reads the header): failed at once with the frames' real size, never retried, and the same
    worker process restyles the video asked right behind it."""
    async with Rig(tmp_path, **RESTYLING) as rig:
        await one_worker(rig)
        trial = await upload_bomb(rig, random.Random())
        check(trial, rig, asked=1, delivered=0, told=1, recovery_s=60)
