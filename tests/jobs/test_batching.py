"""Group commit: concurrent calls share a run, each gets its own answer, nobody is left waiting."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from jobs.batching import Batcher


class Doubler:
    """A `run` that records each batch it got and fails the items it is told to."""

    def __init__(self, *, fail: set[int] = frozenset(), gate: asyncio.Event | None = None) -> None:
        self.batches: list[list[int]] = []
        self.fail = fail
        self.gate = gate

    async def __call__(self, items: Sequence[int]) -> list[int | BaseException]:
        self.batches.append(list(items))
        if self.gate is not None:
            await self.gate.wait()
        return [ValueError(f"no {i}") if i in self.fail else 2 * i for i in items]


async def test_a_lone_call_runs_at_once_and_a_burst_shares_few_runs() -> None:
    run = Doubler()
    batcher = Batcher(run, max_batch=50)
    assert await batcher(4) == 8 and run.batches == [[4]]

    results = await asyncio.gather(*(batcher(i) for i in range(300)))
    assert results == [2 * i for i in range(300)]
    assert len(run.batches) - 1 == 6  # 300 items, 50 a run
    assert [i for batch in run.batches[1:] for i in batch] == list(range(300))  # in order


async def test_calls_made_while_a_run_is_out_wait_for_the_next_one() -> None:
    gate = asyncio.Event()
    run = Doubler(gate=gate)
    batcher = Batcher(run)
    first = asyncio.create_task(batcher(1))
    await asyncio.sleep(0)  # the first run starts, held at the gate
    later = [asyncio.create_task(batcher(i)) for i in (2, 3, 4)]
    await asyncio.sleep(0)
    assert run.batches == [[1]]
    gate.set()
    assert await first == 2 and [await t for t in later] == [4, 6, 8]
    assert run.batches == [[1], [2, 3, 4]]


async def test_an_item_that_fails_fails_alone() -> None:
    batcher = Batcher(Doubler(fail={3}))
    results = await asyncio.gather(*(batcher(i) for i in range(5)), return_exceptions=True)
    assert [r for i, r in enumerate(results) if i != 3] == [0, 2, 4, 8]
    assert isinstance(results[3], ValueError) and str(results[3]) == "no 3"


async def test_a_failed_run_fails_its_items_and_the_next_run_still_goes() -> None:
    calls = 0

    async def flaky(items: Sequence[int]) -> list[int]:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise ConnectionError("Redis went away")
        return list(items)

    batcher = Batcher(flaky)
    with pytest.raises(ConnectionError, match="went away"):
        await batcher(1)
    assert await batcher(2) == 2


async def test_a_run_with_the_wrong_number_of_outcomes_never_leaves_a_caller_hanging() -> None:
    async def short(items: Sequence[int]) -> list[int]:
        return list(items)[1:]

    batcher = Batcher(short)
    results = await asyncio.gather(batcher(1), batcher(2), return_exceptions=True)
    assert all(isinstance(r, RuntimeError) and "outcomes" in str(r) for r in results)


async def test_a_cancelled_caller_does_not_break_the_others() -> None:
    gate = asyncio.Event()
    batcher = Batcher(Doubler(gate=gate))
    leaving = asyncio.create_task(batcher(1))
    staying = asyncio.create_task(batcher(2))
    await asyncio.sleep(0)
    leaving.cancel()
    gate.set()
    assert await staying == 4
    with pytest.raises(asyncio.CancelledError):
        await leaving


def test_a_batch_must_hold_something() -> None:
    with pytest.raises(ValueError, match="max_batch"):
        Batcher(Doubler(), max_batch=0)
