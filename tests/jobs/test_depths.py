"""Places in line from the depth sets (the members with at least j jobs waiting): a member's
place costs the jobs of theirs ahead of it, not the members of the guild, and lists left by a
release that kept no depth sets get their places right after the upgrade."""

from __future__ import annotations

import random

import pytest
from redis.asyncio import Redis

from core.fairshare import Caps, FairShare
from jobs.admission import Admission
from jobs.keys import CURSOR_KEY, DEPTH_PREFIX, depth_key
from tests.harness.renderjobs import job
from tests.jobs.test_admission import (
    assert_places_match_the_replay,
    finish,
    in_arq,
    redis_commands,
    replay_preview,
    start_workers,
)

pytestmark = pytest.mark.timeout(120)
CAPS = Caps(in_flight=1000, per_day=1000)


async def test_a_regulars_place_costs_their_jobs_not_the_guilds_members(redis: Redis) -> None:
    admission = Admission(redis, share=FairShare(extra_depth=0))
    await start_workers(redis, 1)
    for n in range(1000):  # a thousand members with two jobs each, in one guild
        for k in range(2):
            await admission.enqueue(job(f"m{n:04d}", 2 * n + k, guild=1), caps=CAPS)
    for k in range(3):
        await admission.enqueue(job("regular", 5000 + k, guild=1), caps=CAPS)
    regular = job("regular", 6000, guild=1).spec
    assert await admission.preview_position(regular) == await replay_preview(
        admission, regular, "fast"
    )
    await redis_commands(redis)
    await admission.preview_position(regular)
    assert await redis_commands(redis) <= 40  # not ~1,000: one count per depth, not per member


async def test_the_depth_sets_follow_arrivals_admissions_and_cancels(redis: Redis) -> None:
    admission = Admission(redis)
    await start_workers(redis, 1)
    jobs = [job("alice", n, guild=1) for n in range(3)]
    for clip in jobs:
        await admission.enqueue(clip, caps=CAPS)
    assert await redis.zrange(depth_key("fast@tiny", "1", 3), 0, -1) == [b"alice"]
    await admission.cancel(jobs[1].generation_id)
    assert not await redis.exists(depth_key("fast@tiny", "1", 3))
    assert await redis.zrange(depth_key("fast@tiny", "1", 2), 0, -1) == [b"alice"]
    await admission.admit()  # one worker, no extra depth: one job to arq
    assert not await redis.exists(depth_key("fast@tiny", "1", 2))


@pytest.mark.parametrize("seed", [1, 2])
async def test_lists_from_before_the_depth_sets_get_their_places(redis: Redis, seed: int) -> None:
    rng = random.Random(seed)
    admission = Admission(redis, share=FairShare(relax_every=3, extra_depth=5))
    await start_workers(redis, 1)
    members = [(f"m{n:02d}", n % 3 if n % 3 else None) for n in range(40)]
    gids = []
    for n in range(300):
        member, guild = members[min(int(rng.expovariate(0.1)), len(members) - 1)]
        clip = job(member, n, guild)
        gids.append(clip.generation_id)
        await admission.enqueue(clip, caps=CAPS, tier="relax" if rng.random() < 0.3 else "fast")
    await admission.admit()
    for gid in (await in_arq(redis))[:3]:
        await finish(redis, gid)
    # As an older release leaves Redis: the same lists and rings, no depth sets.
    stale = [key async for key in redis.scan_iter(match=f"{DEPTH_PREFIX}*")]
    assert stale
    await redis.delete(*stale)
    await redis.hdel(CURSOR_KEY, "depths")
    await assert_places_match_the_replay(admission, redis, rng.sample(gids, 40), members[:10])
    assert await redis.hexists(CURSOR_KEY, "depths")
