"""Group commit for calls whose fixed cost dwarfs their per-item cost.

A database transaction, a thread hop or a Redis round trip costs the bot far more CPU than the one
row, key or command it carries, and in a burst a thousand requests each pay it. A `Batcher` runs
the first call at once; calls that arrive while it runs wait and go together in the next run. A
lone request is never delayed, and a burst costs a few dozen runs instead of a thousand.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

__all__ = ["Batcher", "settle"]

T = TypeVar("T")
R = TypeVar("R")


class Batcher(Generic[T, R]):
    """`await batcher(item)` is `(await run([item]))[0]`, with concurrent calls sharing a run.

    `run` gets up to `max_batch` items and returns one outcome per item, in order: a result, or
    an exception instance that fails that item alone. If `run` itself raises, every item of that
    run gets the error. A caller that is cancelled stops waiting, but its item may still be
    carried out, as with any call already on its way.
    """

    def __init__(
        self,
        run: Callable[[Sequence[T]], Awaitable[Sequence[R | BaseException]]],
        *,
        max_batch: int = 200,
    ) -> None:
        if max_batch < 1:
            raise ValueError(f"max_batch={max_batch!r} must be at least 1")
        self.run = run
        self.max_batch = max_batch
        self._pending: list[tuple[T, asyncio.Future[R]]] = []
        self._running: asyncio.Task[None] | None = None

    async def __call__(self, item: T) -> R:
        done: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._pending.append((item, done))
        if self._running is None or self._running.done():
            self._running = asyncio.create_task(self._run_all())
        return await done

    async def _run_all(self) -> None:
        while self._pending:
            batch = self._pending[: self.max_batch]
            del self._pending[: self.max_batch]
            waiting = [done for _, done in batch]
            try:
                outcomes = await self.run([item for item, _ in batch])
            except Exception as exc:  # the whole run failed: so did each of its items
                outcomes = [exc] * len(batch)
            except BaseException:  # cancelled (shutdown): so are its waiters
                for done in [*waiting, *(done for _, done in self._pending)]:
                    done.cancel()
                self._pending.clear()
                raise
            if len(outcomes) != len(batch):  # a bug in `run`; never leave a caller hanging
                error = RuntimeError(f"{len(outcomes)} outcomes for a batch of {len(batch)}")
                outcomes = [error] * len(batch)
            for done, outcome in zip(waiting, outcomes, strict=True):
                settle(done, outcome)


def settle(future: asyncio.Future[R], outcome: R | BaseException) -> None:
    """Answer a waiter unless it gave up (cancelled) meanwhile."""
    if future.done():
        return
    if isinstance(outcome, BaseException):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)
