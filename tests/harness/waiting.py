"""Waiting for state that other processes or tasks write: poll a condition, never sleep a guess."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

T = TypeVar("T")

POLL_S = 0.05


async def eventually(
    get: Callable[[], T | None] | Callable[[], Awaitable[T | None]],
    ok: Callable[[T], Any] = bool,
    timeout: float = 10.0,
    *,
    every: float = POLL_S,
    explain: Callable[[], str] | None = None,
) -> T:
    """The first value of `get()` (a function or a coroutine function) that is not None and
    satisfies `ok`, polled every `every` seconds; fails the test after `timeout` seconds, with
    `explain()` (say, the workers' logs) in the message."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = get()
        if inspect.isawaitable(value):
            value = await value
        if value is not None and ok(value):  # type: ignore[arg-type]
            return value  # type: ignore[return-value]
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(
                f"never satisfied: {value!r}" + (f"\n{explain()}" if explain else "")
            )
        await asyncio.sleep(every)
