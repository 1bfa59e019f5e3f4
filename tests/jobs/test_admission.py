"""The admission step against a real Redis (and a real arq worker), as several bots would run it."""

from __future__ import annotations

import asyncio
import json
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from arq.connections import RedisSettings
from arq.worker import Worker, func
from hypothesis import given, settings
from hypothesis import strategies as st
from redis.asyncio import Redis

from core.fairshare import (
    Caps,
    FairShare,
    QuotaExceeded,
    Tier,
    fair_order,
    guild_key,
    plan,
    queue_of,
    route,
    targets,
)
from core.spec import (
    RENDER_TASK,
    ProgressEvent,
    RenderJob,
    RenderSpec,
    deserialize_job,
    serialize_job,
)
from jobs.admission import Admission, cancel_requested
from jobs.events import EVENTS_TTL_S, read_event
from jobs.keys import cancel_key, events_key, flight_key, heartbeat_key, sched_job_key
from tests.harness.renderjobs import job
from tests.harness.waiting import eventually

pytestmark = pytest.mark.timeout(60)
ROOMY = Caps(in_flight=100, per_day=1000)
FAMILY = "tiny"  # the family of every job of tests.harness.renderjobs
DEFAULT_QUEUE = queue_of("fast", FAMILY)  # where its fast jobs go, as a tiny worker reads them
RELAX_QUEUE = queue_of("relax", FAMILY)


async def start_workers(redis: Redis, count: int, queue: str = DEFAULT_QUEUE) -> None:
    for i in range(count):
        state = {"job": None, "at": 0, "started": 0, "queue": queue, "family": FAMILY}
        await redis.set(heartbeat_key(f"{queue}-{i}"), json.dumps(state), px=60_000)


async def finish(redis: Redis, gid: str, queue: str = DEFAULT_QUEUE) -> None:
    """What arq does when a job ends: out of the queue, job key gone, result kept."""
    await redis.zrem(queue, gid)
    await redis.delete(f"arq:job:{gid}")
    await redis.set(f"arq:result:{gid}", b"{}", ex=60)


async def in_arq(redis: Redis, queue: str = DEFAULT_QUEUE) -> list[str]:
    return [g.decode() for g in await redis.zrange(queue, 0, -1)]


async def test_an_admitted_job_is_the_job_arq_would_have_enqueued(redis, redis_server) -> None:
    admission = Admission(redis)
    await start_workers(redis, 1)
    clip = job("alice", 1)
    await admission.enqueue(clip, caps=ROOMY)
    assert await in_arq(redis) == []  # waiting in the member queue until admitted
    assert await admission.admit() == [clip.generation_id]

    seen: list[dict[str, Any]] = []

    async def render_clip(ctx: dict[str, Any], payload: dict[str, Any]) -> str:
        seen.append(payload)
        return "ok"

    worker = Worker(
        functions=[func(render_clip, name=RENDER_TASK)],
        queue_name=DEFAULT_QUEUE,
        redis_settings=RedisSettings.from_dsn(redis_server.url),
        burst=True,
        poll_delay=0.05,
        job_serializer=serialize_job,
        job_deserializer=deserialize_job,
    )
    try:
        await worker.async_run()
    finally:
        await worker.close()
    assert [RenderJob.model_validate(p) for p in seen] == [clip]
    # the clip is finished: it no longer counts against the member's in-flight cap
    await admission.enqueue(job("alice", 2), caps=Caps(in_flight=1))


async def test_a_newcomer_goes_before_a_backlog_of_twenty(redis) -> None:
    admission = Admission(redis, share=FairShare(extra_depth=1))
    await start_workers(redis, 1)
    alice = [job("alice", n) for n in range(20)]
    for clip in alice:
        await admission.enqueue(clip, caps=ROOMY)
    assert len(await admission.admit()) == 2  # one rendering, one ready
    bob = job("bob", 1)
    await admission.enqueue(bob, caps=ROOMY)
    assert await admission.position(bob.generation_id) == 3  # right behind what arq holds
    assert await admission.position(alice[2].generation_id) == 4

    await finish(redis, alice[0].generation_id)
    assert await admission.admit() == [bob.generation_id]
    # arq orders its queue by enqueue time in whole milliseconds of Redis's wall clock, ties by
    # id: which of the two it hands out first is arq's business, not the scheduler's.
    assert set(await in_arq(redis)) == {alice[1].generation_id, bob.generation_id}
    assert await admission.position(alice[2].generation_id) == 3  # still behind bob


async def test_the_redis_step_admits_in_the_pure_schedulers_order(redis) -> None:
    """The Lua port and `scheduler.plan` agree, step by step, on random arrivals."""
    rng = random.Random(5)
    share = FairShare(relax_every=3, extra_depth=1)
    admission = Admission(redis, share=share, batch=4)
    await start_workers(redis, 2)
    members = [("alice", 1), ("bob", 1), ("carol", 2), ("dan", None), ("erin", 2)]
    serial = 0
    for _ in range(60):
        for _ in range(rng.randint(0, 4)):
            member, guild = rng.choice(members)
            serial += 1
            tier = rng.choice(["fast", "fast", "relax"])
            await admission.enqueue(job(member, serial, guild), caps=ROOMY, tier=tier)
        snap = await admission.snapshot()
        workers = await admission.workers()
        free = {q: t - snap.depth.get(q, 0) for q, t in targets(workers, share, FAMILY).items()}
        lanes = snap.queues.get(FAMILY, {})
        expected, _ = plan(lanes, snap.cursor(FAMILY), free, route(workers, FAMILY), share)
        assert await admission.admit() == [a.job for a in expected]
        for gid in await in_arq(redis):
            if rng.random() < 0.5:
                await finish(redis, gid)


async def test_relax_shares_the_fast_workers_and_is_not_starved(redis) -> None:
    admission = Admission(redis, share=FairShare(relax_every=3, extra_depth=0))
    await start_workers(redis, 1)
    for n in range(6):
        await admission.enqueue(job("alice", n), caps=ROOMY)
    relax = job("bob", 0)
    await admission.enqueue(relax, caps=ROOMY, tier="relax")
    order = []
    for _ in range(7):
        (gid,) = await admission.admit()
        order.append(gid)
        await finish(redis, gid)
    assert order.index(relax.generation_id) == 2  # after K-1 = 2 fast ones

    await start_workers(redis, 1, queue=RELAX_QUEUE)  # a relax GPU: relax gets its own queue
    admission.workers_cache_s = 0
    late = job("bob", 1)
    await admission.enqueue(late, caps=ROOMY, tier="relax")
    assert await admission.admit() == [late.generation_id]
    assert await in_arq(redis, RELAX_QUEUE) == [late.generation_id]


async def test_concurrent_admitters_never_duplicate_or_overfill(redis_server, redis) -> None:
    await start_workers(redis, 3)
    share = FairShare(extra_depth=1)
    clients = [Redis.from_url(redis_server.url) for _ in range(5)]
    admitters = [Admission(c, share=share, batch=2) for c in clients]
    submitted = []
    for n in range(40):
        clip = job(f"m{n % 4}", n, guild=n % 2)
        submitted.append(clip.generation_id)
        await admitters[n % 5].enqueue(clip, caps=ROOMY)
    admitted: list[str] = []

    async def admit_forever(admission: Admission) -> None:
        while True:
            admitted.extend(await admission.admit())
            await asyncio.sleep(0)

    async def render_all() -> None:
        while len(admitted) < len(submitted):
            queued = await in_arq(redis)
            assert len(queued) <= 3 + 1  # workers + extra depth, however many admitters
            for gid in queued[:3]:
                await finish(redis, gid)
            await asyncio.sleep(0.001)

    tasks = [asyncio.create_task(admit_forever(a)) for a in admitters]
    try:
        await asyncio.wait_for(render_all(), 30)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for c in clients:
            await c.aclose()
    assert sorted(admitted) == sorted(submitted)  # each exactly once


async def test_a_bot_dying_mid_step_loses_and_duplicates_nothing(redis_server, redis) -> None:
    """A step is one script: a bot killed at any moment leaves each job either waiting or
    in arq, never popped-but-not-enqueued; the next step (any bot's) carries on."""
    await start_workers(redis, 2)
    setup = Admission(redis)
    submitted = []
    for n in range(30):
        clip = job(f"m{n % 3}", n)
        submitted.append(clip.generation_id)
        await setup.enqueue(clip, caps=ROOMY)
    rng = random.Random(1)
    enqueued: list[str] = []
    while len(enqueued) < len(submitted):
        client = Redis.from_url(redis_server.url)
        step = asyncio.create_task(Admission(client, batch=1).admit())
        await asyncio.sleep(rng.random() * 0.004)
        step.cancel()  # the bot dies: maybe before, during or after its script ran
        await asyncio.gather(step, return_exceptions=True)
        await client.connection_pool.disconnect()
        for gid in await in_arq(redis):
            assert await redis.exists(f"arq:job:{gid}")
            enqueued.append(gid)
            await finish(redis, gid)
        snap = await setup.snapshot()
        waiting = [
            g
            for ms in snap.queues.get(FAMILY, {}).get("fast", {}).values()
            for js in ms.values()
            for g in js
        ]
        assert sorted(waiting + enqueued) == sorted(submitted)  # every job in exactly one place


async def test_a_repeated_submit_or_an_old_arq_job_is_not_queued_twice(redis) -> None:
    admission = Admission(redis)
    await start_workers(redis, 1)
    clip = job("alice", 1)
    await admission.enqueue(clip, caps=ROOMY)
    await admission.enqueue(clip, caps=ROOMY)  # a retried submission
    await redis.set(f"arq:job:{clip.generation_id}", b"already there")  # arq has it already
    assert await admission.admit() == [clip.generation_id]
    assert await redis.get(f"arq:job:{clip.generation_id}") == b"already there"
    assert await in_arq(redis) == []


async def test_caps_refuse_the_excess_with_a_place_in_line(redis) -> None:
    admission = Admission(redis, workers_cache_s=0)
    caps = Caps(in_flight=2, per_day=10)
    first, second, third = (job("alice", n) for n in range(3))
    await admission.enqueue(first, caps=caps)
    await admission.enqueue(second, caps=caps)
    with pytest.raises(QuotaExceeded, match=r"You have 2 clips .* \(your next is #1 in line\)"):
        await admission.check("alice", caps)
    with pytest.raises(QuotaExceeded, match="wait for one to finish"):
        await admission.enqueue(third, caps=caps)
    await admission.enqueue(job("bob", 1), caps=caps)  # others are not affected

    await start_workers(redis, 1)
    await admission.admit()
    await finish(redis, first.generation_id)
    await admission.check("alice", caps)
    await admission.enqueue(third, caps=caps)


async def test_concurrent_submits_never_exceed_the_cap(redis_server) -> None:
    clients = [Redis.from_url(redis_server.url) for _ in range(8)]
    try:
        results = await asyncio.gather(
            *(
                Admission(c).enqueue(job("alice", n), caps=Caps(in_flight=3))
                for n, c in enumerate(clients)
            ),
            return_exceptions=True,
        )
    finally:
        for c in clients:
            await c.aclose()
    assert sum(r is None for r in results) == 3
    assert all(isinstance(r, QuotaExceeded) for r in results if r is not None)


async def test_the_daily_cap_resets_at_midnight_utc(redis) -> None:
    now = [datetime(2025, 5, 1, 23, 58, 30, tzinfo=UTC).timestamp()]
    admission = Admission(redis, clock=lambda: now[0])
    caps = Caps(in_flight=10, per_day=2)
    await admission.enqueue(job("alice", 1), caps=caps)
    await admission.enqueue(job("alice", 2), caps=caps)
    with pytest.raises(QuotaExceeded, match=r"made 2 clips today .* 00:00 UTC \(in 1 min\)"):
        await admission.enqueue(job("alice", 3), caps=caps)
    assert await admission.cancel(job("alice", 2).generation_id)  # never rendered: refunded
    await admission.enqueue(job("alice", 3), caps=caps)
    now[0] += 120  # past midnight
    await admission.enqueue(job("alice", 4), caps=caps)


async def test_cancel_takes_out_a_waiting_or_queued_job_and_signals_a_running_one(redis) -> None:
    admission = Admission(redis, share=FairShare(extra_depth=0))
    await start_workers(redis, 2)
    running, queued, waiting = job("alice", 1), job("bob", 1), job("carol", 1)
    for clip in (running, queued, waiting):
        await admission.enqueue(clip, caps=ROOMY)
    assert await admission.admit() == [running.generation_id, queued.generation_id]
    await redis.set(f"arq:in-progress:{running.generation_id}", b"1")  # a worker took it

    assert await admission.cancel(waiting.generation_id) is True
    assert await admission.cancel(queued.generation_id) is True
    assert await in_arq(redis) == [running.generation_id]
    assert await admission.cancel(running.generation_id) is False
    assert await cancel_requested(redis, running.generation_id)
    assert await redis.ttl(cancel_key(running.generation_id)) > 0
    assert not await cancel_requested(redis, queued.generation_id)
    assert await admission.admit() == []  # the cancelled waiting job is gone for good
    assert await admission.position(waiting.generation_id) is None


async def test_eta_comes_from_the_moving_average_of_its_size(redis) -> None:
    admission = Admission(redis, share=FairShare(extra_depth=0))
    await start_workers(redis, 1)
    clips = [job("alice", n) for n in range(3)]
    for clip in clips:
        await admission.enqueue(clip, caps=ROOMY)
    assert await admission.eta(clips[0].generation_id, clips[0].spec) is None  # nothing timed
    for seconds in (10.0, 20.0):
        await admission.record_render(clips[0].spec, seconds)
    mean = 10.0 + 0.3 * (20.0 - 10.0)
    await admission.admit()
    assert await admission.eta(clips[0].generation_id, clips[0].spec) == pytest.approx(mean)
    assert await admission.eta(clips[2].generation_id, clips[2].spec) == pytest.approx(3 * mean)


async def test_the_loop_admits_right_after_a_submit(redis) -> None:
    admission = Admission(redis, poll_s=30)  # only the kick can wake it in time
    await start_workers(redis, 1)
    loop = asyncio.create_task(admission.run())
    try:
        await asyncio.sleep(0.05)  # the loop is idle now
        clip = job("alice", 1)
        await admission.enqueue(clip, caps=ROOMY)
        for _ in range(100):
            if await in_arq(redis):
                break
            await asyncio.sleep(0.01)
        assert await in_arq(redis) == [clip.generation_id]
    finally:
        loop.cancel()
        await asyncio.gather(loop, return_exceptions=True)


async def test_the_previewed_place_is_the_place_it_gets(redis) -> None:
    admission = Admission(redis, share=FairShare(extra_depth=0))
    await start_workers(redis, 1)
    for n in range(5):
        await admission.enqueue(job("alice", n), caps=ROOMY)
    await admission.enqueue(job("bob", 0, guild=2), caps=ROOMY)
    await admission.admit()
    carol = job("carol", 0)
    before = await admission.preview_position(carol.spec)
    relax = await admission.preview_position(carol.spec, "relax")
    # the /create path's reservation previews both tiers the same way
    preview = await admission.reserve(carol.generation_id, carol.spec, ROOMY)
    assert preview is not None and (preview.live, preview.today) == (1, 0)
    assert preview.place == {"fast": before, "relax": relax}
    await admission.enqueue(carol, caps=ROOMY)
    assert before == await admission.position(carol.generation_id) == 3


async def test_a_queued_job_announces_itself_and_a_refused_one_does_not(redis) -> None:
    admission = Admission(redis)
    caps = Caps(in_flight=1, per_day=10)
    queued, refused = job("alice", 0), job("alice", 1)
    announce = ProgressEvent(kind="queued")
    await admission.enqueue(queued, caps=caps, announce=announce)
    with pytest.raises(QuotaExceeded):
        await admission.enqueue(refused, caps=caps, announce=announce)
    [(_, fields)] = await redis.xrange(events_key(queued.generation_id))
    event = read_event(fields)
    assert event.kind == "queued" and event.at > 0
    assert 0 < await redis.ttl(events_key(queued.generation_id)) <= EVENTS_TTL_S
    assert await redis.exists(events_key(refused.generation_id)) == 0


async def reserve(admission: Admission, clip: RenderJob, caps: Caps, **options: Any) -> None:
    await admission.reserve(clip.generation_id, clip.spec, caps, **options)


async def test_a_reservation_refuses_as_check_does(redis) -> None:
    admission = Admission(redis, workers_cache_s=0)
    caps = Caps(in_flight=1, per_day=10)
    await admission.enqueue(job("alice", 0), caps=caps)
    with pytest.raises(QuotaExceeded, match=r"\(your next is #1 in line\)"):
        await reserve(admission, job("alice", 1), caps)
    bob = job("bob", 0)
    preview = await admission.reserve(bob.generation_id, bob.spec, caps)
    assert preview is not None and preview.place["fast"] == 2


async def test_reserved_places_count_against_the_caps_first_come_first_served(redis) -> None:
    """A burst's first requests hold their places before any is queued; the rest are refused
    then, not after they were answered."""
    admission = Admission(redis)
    caps = Caps(in_flight=2, per_day=10)
    first, second, third = (job("alice", n) for n in range(3))
    await reserve(admission, first, caps)
    await reserve(admission, second, caps)
    with pytest.raises(QuotaExceeded, match="You have 2 clips waiting or rendering"):
        await reserve(admission, third, caps)
    with pytest.raises(QuotaExceeded):  # nor can it skip the line by queueing unreserved
        await admission.enqueue(third, caps=caps)
    for clip in (second, first):  # a held place is taken whatever the caps say now
        await admission.enqueue(clip, caps=caps, announce=ProgressEvent(kind="queued"))
    assert await admission.usage("alice") == (2, 2)
    assert await redis.exists(events_key(first.generation_id)) == 1


async def test_a_reserved_job_waits_for_no_worker_until_it_is_queued(redis) -> None:
    admission = Admission(redis)
    await start_workers(redis, 1)
    clip = job("alice", 0)
    await reserve(admission, clip, ROOMY)
    assert await admission.admit() == [] and await admission.position(clip.generation_id) is None
    await admission.enqueue(clip, caps=ROOMY)
    assert await admission.admit() == [clip.generation_id]


async def test_a_released_place_and_its_count_today_are_given_back(redis) -> None:
    admission = Admission(redis)
    caps = Caps(in_flight=1, per_day=1)
    refused, later = job("alice", 0), job("alice", 1)
    await reserve(admission, refused, caps)
    assert await admission.release(refused.generation_id)
    assert not await admission.release(refused.generation_id)  # once
    await reserve(admission, later, caps)
    await admission.enqueue(later, caps=caps)
    assert not await admission.release(later.generation_id)  # a queued job is not a place
    assert await admission.usage("alice") == (1, 1)


async def test_a_place_its_bot_never_queued_lapses(redis) -> None:
    admission = Admission(redis)
    caps = Caps(in_flight=1, per_day=10)
    lost, other = job("alice", 0), job("alice", 1)
    await reserve(admission, lost, caps, ttl=timedelta(milliseconds=50))
    with pytest.raises(QuotaExceeded):
        await reserve(admission, other, caps)
    await eventually(lambda: redis.exists(sched_job_key(lost.generation_id)), lambda n: n == 0)
    await reserve(admission, other, caps)
    with pytest.raises(QuotaExceeded):  # the late one is checked as if it never had a place
        await admission.enqueue(lost, caps=caps)


async def test_a_lapsed_place_leaves_no_in_flight_set_behind(redis) -> None:
    """A member who reserved and never came back: their in-flight set goes with the place; a
    place that was queued keeps the set while its job waits."""
    admission = Admission(redis)
    lapsed, kept = job("alice", 0), job("bob", 0)
    short = timedelta(milliseconds=200)
    await reserve(admission, lapsed, ROOMY, ttl=short)
    assert 0 < await redis.pttl(flight_key("alice")) <= 200
    await eventually(lambda: redis.exists(flight_key("alice")), lambda n: n == 0)
    await reserve(admission, kept, ROOMY, ttl=short)
    await admission.enqueue(kept, caps=ROOMY)
    assert await redis.pttl(flight_key("bob")) == -1  # its waiting job holds it
    assert await admission.usage("bob") == (1, 1)


async def test_concurrent_reservations_never_exceed_the_cap(redis_server) -> None:
    clients = [Redis.from_url(redis_server.url) for _ in range(8)]
    try:
        results = await asyncio.gather(
            *(
                reserve(Admission(c), job("alice", n), Caps(in_flight=3))
                for n, c in enumerate(clients)
            ),
            return_exceptions=True,
        )
    finally:
        for c in clients:
            await c.aclose()
    assert sum(r is None for r in results) == 3
    assert all(isinstance(r, QuotaExceeded) for r in results if r is not None)


async def test_a_requeue_by_the_reconciler_is_neither_capped_nor_counted(redis) -> None:
    admission = Admission(redis)
    caps = Caps(in_flight=1, per_day=1)
    await admission.enqueue(job("alice", 1), caps=caps)
    await admission.enqueue(job("alice", 2), caps=None)
    assert await admission.usage("alice") == (2, 1)


# --- places in line: the Lua counts against a replay of the whole fair order --------------


async def replay_preview(admission: Admission, spec: RenderSpec, tier: Tier) -> int:
    """The old `preview_position`: the snapshot plus a phantom job, through `fair_order`."""
    snap = await admission.snapshot()
    routes = route(await admission.workers(), spec.backend)
    lanes = snap.queues.setdefault(spec.backend, {"fast": {}, "relax": {}})
    members = lanes[tier].setdefault(guild_key(spec.guild_id), {})
    members.setdefault(spec.owner_id, []).append("")
    ahead = {q: snap.depth.get(q, 0) for q in set(routes.values())}
    for a in fair_order(lanes, snap.cursor(spec.backend), routes, admission.share):
        ahead[a.queue] += 1
        if a.job == "":
            return ahead[a.queue]
    raise AssertionError("the phantom job is always in the order")


async def replay_position(admission: Admission, redis: Redis, gid: str) -> int | None:
    """The old `position`: a waiting job's place from `positions()`, else its rank in arq."""
    state, queue = await redis.hmget(f"reelbot:sched:job:{gid}", ["state", "queue"])
    if state == b"waiting":
        return (await admission.positions()).get(gid)
    if queue is not None:
        rank = await redis.zrank(queue.decode(), gid)
        return None if rank is None else rank + 1
    return None


async def replay_next_position(admission: Admission, redis: Redis, member: str) -> int | None:
    flight = {g.decode() for g in await redis.smembers(f"reelbot:sched:flight:{member}")}
    places = [p for gid, p in (await admission.positions()).items() if gid in flight]
    return min(places, default=None)


async def assert_places_match_the_replay(
    admission: Admission, redis: Redis, gids: list[str], members: list[tuple[str, int | None]]
) -> None:
    for gid in gids:
        assert await admission.position(gid) == await replay_position(admission, redis, gid)
    for member, guild in [*members, ("newcomer", 1), ("zed", 9)]:
        spec = job(member, 0, guild).spec
        for tier in ("fast", "relax"):
            want = await replay_preview(admission, spec, tier)
            assert await admission.preview_position(spec, tier) == want, (member, guild, tier)
        want_next = await replay_next_position(admission, redis, member)
        assert await admission.next_position(member) == want_next, member


PLAYERS = [("alice", 1), ("bob", 1), ("carol", 2), ("dan", None), ("erin", 2), ("fay", 1)]
WORKERS = [{}, {DEFAULT_QUEUE: 1}, {RELAX_QUEUE: 2}, {DEFAULT_QUEUE: 2, RELAX_QUEUE: 1}]
action = st.one_of(
    st.tuples(
        st.just("submit"),
        st.integers(0, len(PLAYERS) - 1),
        st.sampled_from(["fast", "fast", "relax"]),
        st.integers(1, 5),
    ),
    st.tuples(st.just("admit"), st.integers(0, 2)),
    st.tuples(st.just("finish"), st.integers(0, 3)),
    st.tuples(st.just("cancel"), st.integers(0, 99)),
)


@pytest.mark.timeout(240)
@settings(max_examples=120, deadline=None)
@given(
    actions=st.lists(action, max_size=30),
    workers=st.sampled_from(WORKERS),
    every=st.integers(1, 5),
    depth=st.integers(0, 2),
)
def test_places_equal_a_replay_of_the_fair_order(
    redis_server, actions, workers, every, depth
) -> None:
    """Random arrivals, admission steps (moving the guild, member and relax-debt cursors),
    finished and cancelled clips, with one tier, both, or one sharing the other's queue."""

    async def case() -> None:
        redis = Redis.from_url(redis_server.url)
        try:
            await redis.flushdb()
            share = FairShare(relax_every=every, extra_depth=depth)
            admission = Admission(redis, share=share, workers_cache_s=0)
            for queue, count in workers.items():
                await start_workers(redis, count, queue)
            gids: list[str] = []
            for kind, *args in actions:
                if kind == "submit":
                    who, tier, count = args
                    member, guild = PLAYERS[who]
                    for _ in range(count):
                        clip = job(member, len(gids), guild)
                        gids.append(clip.generation_id)
                        await admission.enqueue(clip, caps=ROOMY, tier=tier)
                elif kind == "admit":
                    for _ in range(args[0] + 1):
                        await admission.admit()
                elif kind == "finish":
                    for queue in (DEFAULT_QUEUE, RELAX_QUEUE):
                        for gid in (await in_arq(redis, queue))[: args[0]]:
                            await finish(redis, gid, queue)
                elif gids:
                    await admission.cancel(gids[args[0] % len(gids)])
            await assert_places_match_the_replay(admission, redis, gids, PLAYERS)
        finally:
            await redis.aclose()

    asyncio.run(case())


@pytest.mark.parametrize("every", [1, 3])
async def test_places_match_the_replay_in_rings_longer_than_a_scan_chunk(redis, every) -> None:
    """Hundreds of members in a guild (the Lua walks rings 100 at a time), uneven backlogs,
    cursors in the middle of the rings, relax sharing the fast queue."""
    rng = random.Random(every)
    admission = Admission(redis, share=FairShare(relax_every=every, extra_depth=40))
    await start_workers(redis, 1)
    members = [(f"m{n:03d}", n % 4 if n % 4 else None) for n in range(260)]
    gids: list[str] = []
    for n in range(900):
        member, guild = members[min(int(rng.expovariate(0.02)), len(members) - 1)]
        clip = job(member, n, guild)
        gids.append(clip.generation_id)
        tier = "relax" if rng.random() < 0.2 else "fast"
        await admission.enqueue(clip, caps=Caps(in_flight=1000, per_day=1000), tier=tier)
    await admission.admit()
    for gid in (await in_arq(redis))[:30]:
        await finish(redis, gid)
    await admission.admit()
    sample = rng.sample(gids, 60)
    await assert_places_match_the_replay(admission, redis, sample, rng.sample(members, 12))


async def redis_commands(redis: Redis) -> int:
    """Commands Redis ran since the last call (those inside scripts included)."""
    stats = await redis.info("commandstats")
    await redis.config_resetstat()
    return sum(v["calls"] for k, v in stats.items() if k not in ("cmdstat_config", "cmdstat_info"))


@pytest.mark.parametrize("backlog", ["one member", "a thousand members"])
async def test_a_newcomers_preview_and_check_cost_the_same_behind_any_backlog(
    redis, backlog
) -> None:
    admission = Admission(redis, share=FairShare(extra_depth=0))
    await start_workers(redis, 1)
    caps = Caps(in_flight=2000, per_day=2000)
    for n in range(1000):
        member = "whale" if backlog == "one member" else f"m{n:04d}"
        await admission.enqueue(job(member, n, guild=n % 3), caps=caps)
    newcomer = job("newcomer", 0, guild=1)
    await redis_commands(redis)
    assert await admission.preview_position(newcomer.spec) == await replay_preview(
        admission, newcomer.spec, "fast"
    )
    await redis_commands(redis)
    await admission.preview_position(newcomer.spec)
    assert await redis_commands(redis) <= 13  # not ~1,000: the jobs behind are never read
    assert await admission.check("newcomer", caps) == (0, 0)
    assert await redis_commands(redis) <= 5  # the script, HEXISTS, GET, SMEMBERS, the reset
