"""A stream read through a consumer group by several processes: each entry handled once, a
failed one tried again, a dead reader's entry taken over, the group made again if deleted."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest

from jobs.group_reader import GroupReader
from tests.harness.waiting import eventually

pytestmark = [pytest.mark.timeout(30)]

STREAM = "test:group-reader"
GROUP = "readers"


@contextlib.asynccontextmanager
async def running(*readers: GroupReader) -> AsyncIterator[None]:
    tasks = [asyncio.create_task(reader.run()) for reader in readers]
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def reader(redis, handled: list[tuple[str, str]], name: str, **kwargs) -> GroupReader:
    async def handle(entry_id: str, fields: dict[str, str]) -> None:
        handled.append((name, fields["n"]))

    return GroupReader(redis, STREAM, GROUP, handle, consumer=name, what="test", **kwargs)


async def pending(redis) -> int:
    [group] = await redis.xinfo_groups(STREAM)
    return int(group["pending"])


async def test_two_readers_in_one_group_handle_each_entry_once(redis) -> None:
    await redis.delete(STREAM)
    handled: list[tuple[str, str]] = []
    async with running(reader(redis, handled, "a"), reader(redis, handled, "b")):
        for n in range(30):
            await redis.xadd(STREAM, {"n": str(n)})
        await eventually(lambda: len(handled), lambda count: count >= 30)
        await eventually(lambda: pending(redis), lambda count: count == 0)
    assert sorted(int(n) for _, n in handled) == list(range(30))


async def test_a_failed_entry_stays_pending_and_is_handled_on_the_next_try(redis) -> None:
    await redis.delete(STREAM)
    tries: list[str] = []

    async def flaky(entry_id: str, fields: dict[str, str]) -> None:
        tries.append(fields["n"])
        if len(tries) == 1:
            raise ConnectionError("Discord said 503")

    one = GroupReader(
        redis,
        STREAM,
        GROUP,
        flaky,
        consumer="a",
        what="test",
        transient=(ConnectionError,),
        retry_delay_s=0.1,
    )
    await redis.xadd(STREAM, {"n": "1"})
    async with running(one):
        await eventually(lambda: list(tries), lambda seen: seen == ["1", "1"])
        await eventually(lambda: pending(redis), lambda count: count == 0)


async def test_a_dead_readers_entry_is_taken_over_once_idle(redis) -> None:
    await redis.delete(STREAM)
    await redis.xgroup_create(STREAM, GROUP, id="0", mkstream=True)
    await redis.xadd(STREAM, {"n": "7"})
    # "dead" read it and died before acknowledging: it stays pending under its name
    await redis.xreadgroup(GROUP, "dead", {STREAM: ">"}, count=1)
    handled: list[tuple[str, str]] = []
    async with running(reader(redis, handled, "alive", claim_idle_ms=200)):
        await eventually(lambda: list(handled), lambda seen: seen == [("alive", "7")])
        await eventually(lambda: pending(redis), lambda count: count == 0)


async def test_a_deleted_group_is_made_again(redis) -> None:
    await redis.delete(STREAM)
    handled: list[tuple[str, str]] = []
    async with running(reader(redis, handled, "a", retry_delay_s=0.1)):
        await redis.xadd(STREAM, {"n": "1"})
        await eventually(lambda: list(handled), lambda seen: len(seen) == 1)
        await redis.delete(STREAM)  # the stream and its group gone (a FLUSHALL, say)
        await asyncio.sleep(0.1)
        await redis.xadd(STREAM, {"n": "2"})
        await eventually(lambda: [n for _, n in handled], lambda seen: "2" in seen, timeout=15)


async def test_an_entry_that_always_fails_is_given_up_and_holds_up_nothing(redis) -> None:
    """A malformed entry (not a transient error) is logged and acknowledged once, so the
    entries behind it are handled: before, it was tried every few seconds forever."""
    await redis.delete(STREAM)
    tries: list[str] = []

    async def picky(entry_id: str, fields: dict[str, str]) -> None:
        tries.append(fields["n"])
        if fields["n"] == "bad":
            raise ValueError("no such field")

    one = GroupReader(
        redis,
        STREAM,
        GROUP,
        picky,
        consumer="a",
        what="test",
        transient=(ConnectionError,),
        retry_delay_s=0.1,
    )
    await redis.xadd(STREAM, {"n": "bad"})
    await redis.xadd(STREAM, {"n": "good"})
    async with running(one):
        await eventually(lambda: list(tries), lambda seen: "good" in seen)
        await eventually(lambda: pending(redis), lambda count: count == 0)
    assert tries == ["bad", "good"]
