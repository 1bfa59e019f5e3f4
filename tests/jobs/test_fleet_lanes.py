"""Two model families in one scheduler: each family's jobs wait in its own lanes and go only to
its own arq queues, never behind another family's, while a member's caps stay one set."""

from __future__ import annotations

import hashlib
import json
import random

import pytest
from redis.asyncio import Redis

from core.fairshare import Caps, FairShare, QuotaExceeded, plan, queue_of, route, targets
from core.spec import RenderJob
from jobs.admission import Admission
from jobs.keys import heartbeat_key
from tests.harness.renderjobs import job
from tests.jobs.test_admission import finish, in_arq

pytestmark = pytest.mark.timeout(60)
ROOMY = Caps(in_flight=100, per_day=1000)


def of(family: str, member: str, n: int, guild: int | None = 1) -> RenderJob:
    """`job(member, n, guild)` rendered by `family` (its own id)."""
    clip = job(member, n, guild)
    spec = clip.spec.model_copy(update={"backend": family})
    gid = hashlib.md5(f"{family}/{clip.generation_id}".encode()).hexdigest()
    return RenderJob(generation_id=gid, spec=spec)


async def start(redis: Redis, family: str, count: int = 1, tier: str = "fast") -> None:
    queue = queue_of("fast" if tier == "fast" else "relax", family)
    for i in range(count):
        state = {"job": None, "at": 0, "started": 0, "queue": queue, "family": family}
        await redis.set(heartbeat_key(f"{family}-{tier}-{i}"), json.dumps(state), px=60_000)


async def test_each_familys_jobs_go_only_to_its_own_queue(redis: Redis) -> None:
    admission = Admission(redis, share=FairShare(extra_depth=5), workers_cache_s=0)
    await start(redis, "ltx")
    await start(redis, "wan_vace")
    ltx = [of("ltx", "alice", n) for n in range(3)]
    vace = [of("wan_vace", "bob", n) for n in range(2)]
    for clip in [*ltx, *vace]:
        await admission.enqueue(clip, caps=ROOMY)
    assert sorted(await admission.admit()) == sorted(c.generation_id for c in [*ltx, *vace])
    assert set(await in_arq(redis, queue_of("fast", "ltx"))) == {c.generation_id for c in ltx}
    assert set(await in_arq(redis, queue_of("fast", "wan_vace"))) == {c.generation_id for c in vace}


async def test_a_family_with_no_worker_waits_and_holds_up_no_other(redis: Redis) -> None:
    admission = Admission(redis, share=FairShare(extra_depth=0), workers_cache_s=0)
    await start(redis, "ltx")
    edit = of("wan_vace", "alice", 0)
    await admission.enqueue(edit, caps=ROOMY)
    create = of("ltx", "alice", 1)
    await admission.enqueue(create, caps=ROOMY)
    assert await admission.admit() == [create.generation_id]
    assert await admission.position(edit.generation_id) == 1  # first in its own family's line
    await start(redis, "wan_vace")  # its worker comes up
    assert await admission.admit() == [edit.generation_id]
    assert await in_arq(redis, queue_of("fast", "wan_vace")) == [edit.generation_id]


async def test_an_edit_behind_the_members_own_creates_goes_when_its_worker_is_free(
    redis: Redis,
) -> None:
    """No head-of-line blocking across families: the ltx worker is busy with a backlog of the
    member's /create jobs, the wan_vace worker is free, so the member's edit goes at once."""
    admission = Admission(redis, share=FairShare(extra_depth=0), workers_cache_s=0)
    await start(redis, "ltx")
    await start(redis, "wan_vace")
    creates = [of("ltx", "alice", n) for n in range(5)]
    for clip in creates:
        await admission.enqueue(clip, caps=ROOMY)
    assert await admission.admit() == [creates[0].generation_id]  # the ltx worker is busy
    edit = of("wan_vace", "alice", 99)
    await admission.enqueue(edit, caps=ROOMY)
    # its place is counted in its own family's line, not behind the four ltx jobs waiting
    assert await admission.position(edit.generation_id) == 1
    assert await admission.preview_position(of("wan_vace", "alice", 100).spec) == 2
    assert await admission.preview_position(of("ltx", "alice", 100).spec) == 6
    assert await admission.admit() == [edit.generation_id]
    assert await admission.position(creates[1].generation_id) == 2  # the ltx line as it was


async def test_caps_are_one_set_across_families(redis: Redis) -> None:
    admission = Admission(redis, workers_cache_s=0)
    await start(redis, "ltx")
    await start(redis, "wan_vace")
    caps = Caps(in_flight=2, per_day=3)
    await admission.enqueue(of("ltx", "alice", 0), caps=caps)
    await admission.enqueue(of("wan_vace", "alice", 1), caps=caps)
    with pytest.raises(QuotaExceeded) as refused:
        await admission.enqueue(of("wan_vace", "alice", 2), caps=caps)
    assert refused.value.cap == "in_flight"
    assert await admission.usage("alice") == (2, 2)
    assert await admission.admit()
    for family in ("ltx", "wan_vace"):
        for gid in await in_arq(redis, queue_of("fast", family)):
            await finish(redis, gid, queue_of("fast", family))
    await admission.enqueue(of("ltx", "alice", 3), caps=caps)
    with pytest.raises(QuotaExceeded) as refused:
        await admission.enqueue(of("wan_vace", "alice", 4), caps=caps)
    assert refused.value.cap == "per_day"


async def test_the_redis_step_agrees_with_the_pure_plan_per_family(redis: Redis) -> None:
    """The Lua port and `plan` agree family by family on random arrivals, with one family's
    relax tier sharing its fast workers and the other's on its own worker."""
    rng = random.Random(7)
    share = FairShare(relax_every=3, extra_depth=1)
    admission = Admission(redis, share=share, batch=4, workers_cache_s=0)
    await start(redis, "ltx", 2)
    await start(redis, "wan_vace", 1)
    await start(redis, "wan_vace", 1, tier="relax")
    members = [("alice", 1), ("bob", 1), ("carol", 2), ("dan", None)]
    serial = 0
    for _ in range(40):
        for _ in range(rng.randint(0, 4)):
            member, guild = rng.choice(members)
            family = rng.choice(["ltx", "wan_vace"])
            serial += 1
            tier = rng.choice(["fast", "fast", "relax"])
            await admission.enqueue(of(family, member, serial, guild), caps=ROOMY, tier=tier)
        snap = await admission.snapshot()
        workers = await admission.workers()
        expected: dict[str, list[str]] = {}
        for family in ("ltx", "wan_vace"):
            depth = targets(workers, share, family)
            free = {q: t - snap.depth.get(q, 0) for q, t in depth.items()}
            lanes = snap.queues.get(family, {})
            done, _ = plan(lanes, snap.cursor(family), free, route(workers, family), share)
            expected[family] = [a.job for a in done]
        got = await admission.admit()
        assert got == expected["ltx"] + expected["wan_vace"]
        for family in ("ltx", "wan_vace"):
            for tier in ("fast", "relax"):
                queue = queue_of(tier, family)
                for gid in await in_arq(redis, queue):
                    if rng.random() < 0.5:
                        await finish(redis, gid, queue)
        positions = await admission.positions()
        for gid, place in list(positions.items())[:10]:
            assert await admission.position(gid) == place
