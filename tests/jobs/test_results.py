"""The result stream on a real Redis: each record delivered once, then gone from Redis."""

from __future__ import annotations

import pytest
from redis.asyncio import Redis

from core.fairshare import Caps
from core.spec import ResultRecord
from jobs import results
from jobs.admission import Admission
from jobs.keys import RESULT_STREAM, cancel_key, flight_key, sched_job_key
from jobs.results import acknowledge, publish_result_once, results_backlog, trim_delivered
from tests.harness.renderjobs import job

pytestmark = pytest.mark.timeout(60)
BOT = "reelbot-bot"  # the bot's consumer group (bot.delivery.consumer.GROUP)


def record(n: int) -> ResultRecord:
    return ResultRecord(generation_id=f"{n:032x}", status="done", media_path=f"{n}.mp4")


async def publish(redis: Redis, *ns: int) -> None:
    for n in ns:
        assert await publish_result_once(redis, record(n))


async def read(redis: Redis, group: str, consumer: str, count: int) -> list[tuple[bytes, str]]:
    """Up to `count` new records for `consumer`: (entry id, generation id)."""
    replies = await redis.xreadgroup(group, consumer, {RESULT_STREAM: ">"}, count=count)
    return [
        (entry_id, ResultRecord.model_validate_json(fields[b"r"]).generation_id)
        for _stream, entries in replies or []
        for entry_id, fields in entries
    ]


async def stored(redis: Redis) -> list[str]:
    """The generation ids still in the stream, oldest first."""
    entries = await redis.xrange(RESULT_STREAM)
    return [ResultRecord.model_validate_json(f[b"r"]).generation_id for _, f in entries]


async def test_a_record_goes_once_every_group_has_acknowledged_it(redis) -> None:
    await redis.xgroup_create(RESULT_STREAM, BOT, id="0", mkstream=True)
    await redis.xgroup_create(RESULT_STREAM, "audit", id="0")
    await publish(redis, 1, 2, 3)
    for entry_id, _gid in await read(redis, BOT, "bot-1", 3):
        await acknowledge(redis, BOT, entry_id)
    # the bot is done with all three; the other group has read none: all stay
    assert await stored(redis) == [record(n).generation_id for n in (1, 2, 3)]

    (first, _), (second, _) = await read(redis, "audit", "a-1", 2)
    await acknowledge(redis, "audit", second)  # acknowledged out of order: the first is pending
    assert await stored(redis) == [record(n).generation_id for n in (1, 2, 3)]
    await acknowledge(redis, "audit", first)
    assert await stored(redis) == [record(3).generation_id]  # read by one group only
    ((third, _),) = await read(redis, "audit", "a-1", 1)
    await acknowledge(redis, "audit", third)
    assert await stored(redis) == [] and await redis.xlen(RESULT_STREAM) == 0


async def test_a_record_a_crashed_consumer_read_stays_for_another_to_claim(redis) -> None:
    await redis.xgroup_create(RESULT_STREAM, BOT, id="0", mkstream=True)
    await publish(redis, 1)
    ((crashed, gid),) = await read(redis, BOT, "bot-1", 1)  # read, then the bot died
    await publish(redis, 2, 3)
    for entry_id, _gid in await read(redis, BOT, "bot-2", 2):
        await acknowledge(redis, BOT, entry_id)
    assert await stored(redis) == [gid, record(2).generation_id, record(3).generation_id]

    _next, claimed, _deleted = await redis.xautoclaim(RESULT_STREAM, BOT, "bot-2", 0)
    assert [ResultRecord.model_validate_json(f[b"r"]) for _, f in claimed] == [record(1)]
    await acknowledge(redis, BOT, crashed)
    assert await stored(redis) == []


async def test_records_wait_for_the_first_bot_to_start(redis) -> None:
    """No group yet: no bot has started. Its group is made at 0 and reads every record."""
    await publish(redis, 1, 2, 3)
    assert await trim_delivered(redis) == 0
    await redis.xgroup_create(RESULT_STREAM, BOT, id="0")
    assert [gid for _, gid in await read(redis, BOT, "bot-1", 10)] == [
        record(n).generation_id for n in (1, 2, 3)
    ]


async def test_with_no_reader_ever_the_stream_is_capped_not_endless(redis, monkeypatch) -> None:
    """An install that runs no bot (the terminal only) must not keep every result forever."""
    monkeypatch.setattr(results, "KEPT_WITHOUT_READER", 50)
    await publish(redis, *range(1, 301))
    kept = await stored(redis)
    assert 50 <= len(kept) <= 150  # trimmed in whole stream nodes (100 entries), newest kept
    assert kept[-1] == record(300).generation_id


async def test_publishing_a_result_takes_the_clip_out_of_the_scheduler(redis) -> None:
    """Its record, its entry in the member's in-flight set and a request to cancel it go at
    once: the member's cap frees while arq is still wrapping the job up, and nothing stays."""
    admission = Admission(redis)
    clip = job("alice", 1)
    gid = clip.generation_id
    await admission.enqueue(clip, caps=Caps(in_flight=1))
    await redis.set(f"arq:job:{gid}", b"x")  # as admitted: the job is in arq
    await redis.hset(sched_job_key(gid), "state", "admitted")
    await redis.set(cancel_key(gid), "1")  # the owner asked to stop it as it finished

    await publish_result_once(redis, record(1).model_copy(update={"generation_id": gid}))
    assert await redis.exists(sched_job_key(gid), flight_key("alice"), cancel_key(gid)) == 0
    assert await admission.usage("alice") == (0, 1)  # nothing in flight; one submitted today
    await admission.enqueue(job("alice", 2), caps=Caps(in_flight=1))  # the cap is free

    # a retry of the finished job announces again: nothing is appended twice
    assert not await publish_result_once(redis, record(1).model_copy(update={"generation_id": gid}))
    assert await redis.xlen(RESULT_STREAM) == 1


async def test_the_backlog_counts_stored_pending_and_unread_records(redis) -> None:
    assert await results_backlog(redis) == results.Backlog(0, 0, 0, 0)
    await publish(redis, 1, 2, 3, 4)
    assert await results_backlog(redis) == results.Backlog(4, 0, 4, 0)
    await redis.xgroup_create(RESULT_STREAM, BOT, id="0")
    (first, _), _ = await read(redis, BOT, "bot-1", 2)
    await acknowledge(redis, BOT, first)
    assert await results_backlog(redis) == results.Backlog(3, 1, 2, 1)
