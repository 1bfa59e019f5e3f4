"""The ETA in the queued answer: what a member reads, from the averages delivered clips leave in
a real Redis."""

from __future__ import annotations

import asyncio
import json
import uuid

from redis.asyncio import Redis

from bot.delivery.eta import RenderTimes, work_seconds
from bot.messages import queued_text
from core.fairshare import Caps, queue_of, size_class
from core.flags import parse_request
from core.spec import RenderJob, RenderSpec
from jobs.admission import Admission
from jobs.keys import heartbeat_key
from tests.bot.capabilities import CAPS

DEFAULT_QUEUE = queue_of("fast", "tiny")  # where a tiny worker reads fast jobs

SMALL = "a fox -len 1 -seed 1"
BIG = "a fox on a long walk -len 4 -ar 1:1 -seed 2"


def spec(text: str, owner: str = "alice") -> RenderSpec:
    return parse_request(text, capabilities=CAPS, owner_id=owner, owner_name=owner, guild_id=1)


def klass(clip: RenderSpec) -> int:
    return size_class(clip.width, clip.height, clip.num_frames, clip.steps)


async def start_worker(redis: Redis, name: str = "w-0") -> None:
    state = {"job": None, "at": 0, "started": 0, "queue": DEFAULT_QUEUE}
    await redis.set(heartbeat_key(name), json.dumps(state), px=60_000)


async def queued(times: RenderTimes, clip: RenderSpec, position: int = 1) -> str:
    """The public "queued" answer for `clip` at `position`, as the bot writes it."""
    eta_s = await times.ready_in(clip, position, "fast")
    return queued_text(1, clip, position, eta_s=eta_s)


def test_work_time_leaves_out_waiting_and_loading() -> None:
    assert work_seconds({"pickup": 9.0, "load": 5.0, "denoise": 2.0, "encode": 1.0}) == 3.0
    assert work_seconds({"pickup": 1.0}) is None


async def test_a_big_clip_says_minutes_where_a_small_one_says_seconds(redis) -> None:
    admission = Admission(redis)
    await start_worker(redis)
    small, big = spec(SMALL), spec(BIG)
    assert klass(big) > klass(small)
    await admission.record_render(small, 10.0)
    await admission.record_render(big, 120.0)
    times = RenderTimes(redis, admission)

    assert "queued (next up, ready in about 10 s)" in await queued(times, small)
    assert "queued (next up, ready in about 2 min)" in await queued(times, big)
    # Two clips ahead with one worker: three rounds of the clip's own size.
    assert "queued (#3 in the queue, ready in about 30 s)" in await queued(times, small, 3)


async def test_a_size_never_timed_is_scaled_from_the_nearest_one_that_was(redis) -> None:
    admission = Admission(redis)
    await start_worker(redis)
    small, big = spec(SMALL), spec(BIG)
    await admission.record_render(small, 10.0)
    times = RenderTimes(redis, admission)
    eta_s = await times.ready_in(big, 1, "fast")
    assert eta_s == 10.0 * 2 ** (klass(big) - klass(small))


async def test_no_eta_before_any_clip_of_the_model_is_timed_or_without_a_worker(redis) -> None:
    admission = Admission(redis)
    small = spec(SMALL)
    # Another model's clips say nothing about this one's.
    await admission.record_render(small.model_copy(update={"backend": "wan"}), 300.0)
    await start_worker(redis)
    text = await queued(RenderTimes(redis, admission), small)
    assert "queued (next up) ·" in text and "ready in" not in text

    await admission.record_render(small, 10.0)
    await redis.delete(heartbeat_key("w-0"))
    idle = RenderTimes(redis, Admission(redis))  # fresh caches: no worker alive now
    text = await queued(idle, small)
    assert "queued (next up) ·" in text and "ready in" not in text


async def test_the_queued_answer_says_what_the_scheduler_says_once_queued(redis) -> None:
    """The answer goes out before its job is queued; /queue and `reelbot create` ask the
    scheduler about the queued job: both read the same model, so they agree."""
    admission = Admission(redis)
    await start_worker(redis)
    await admission.record_render(spec(SMALL), 10.0)
    times = RenderTimes(redis, admission)
    caps = Caps(in_flight=100, per_day=1000)
    for n, owner in enumerate(["alice", "bob", "alice", "carol", "alice"]):
        clip = spec(f"a fox {n} -len 1", owner)
        position = await admission.preview_position(clip)
        promised = await times.ready_in(clip, position, "fast")
        gid = uuid.uuid4().hex
        await admission.enqueue(RenderJob(generation_id=gid, spec=clip), caps=caps)
        assert promised is not None
        assert await admission.eta(gid, clip) == promised


async def test_a_burst_of_requests_reads_the_averages_once(redis) -> None:
    admission = Admission(redis)
    await start_worker(redis)
    await admission.record_render(spec(SMALL), 10.0)
    times = RenderTimes(redis, admission)
    before = await hgetall_calls(redis)
    etas = await asyncio.gather(*(times.ready_in(spec(SMALL), n, "fast") for n in range(1, 1001)))
    assert etas[0] == 10.0 and etas[-1] == 1000 * 10.0
    assert await hgetall_calls(redis) - before == 1


async def hgetall_calls(redis: Redis) -> int:
    stats = await redis.info("commandstats")
    return int(stats.get("cmdstat_hgetall", {}).get("calls", 0))


async def test_a_fast_clip_is_timed_apart_from_full_schedule_ones(redis) -> None:
    """A distilled or cached fast render costs less than its steps say: its ETA comes from fast
    clips once one is timed, and until then from the full-schedule ones, scaled by size."""
    from core.rendercaps import FastRecipe
    from jobs.keys import RENDER_TIMES_KEY

    caps = CAPS.model_copy(update={"fast": FastRecipe(steps=2)})
    hq = parse_request("a fox -len 1 -seed 1", capabilities=caps, guild_id=1)
    fast = parse_request("a fox -len 1 -fast -seed 1", capabilities=caps, guild_id=1)
    admission = Admission(redis)
    await start_worker(redis)
    await admission.record_render(hq, 40.0)
    borrowed = await RenderTimes(redis, admission).ready_in(fast, 1, "fast")
    assert borrowed == 40.0 * 2 ** (klass(fast) - klass(hq))  # half the steps: about half

    await admission.record_render(fast, 4.0)
    times = RenderTimes(redis, admission)
    assert "ready in about 4 s" in await queued(times, fast)
    assert "ready in about 40 s" in await queued(times, hq)  # not dragged down by fast clips
    keys = {k.decode() for k in await redis.hkeys(RENDER_TIMES_KEY)}
    assert keys == {f"tiny:{klass(hq)}", f"tiny+fast:{klass(fast)}"}  # old key shape kept
