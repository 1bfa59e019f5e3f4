"""redis-py's asyncio commands, typed as the replies they are.

One class of redis-py serves the blocking and the asyncio client, so each command is typed
`Awaitable[T] | T`, which mypy will not await. On `redis.asyncio.Redis` (and its pipelines'
`execute`) a command is always the awaitable: `await reply(redis.hgetall(key))`.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable
from typing import TypeVar

__all__ = ["reply"]

T = TypeVar("T")


def reply(command: Awaitable[T] | T) -> Awaitable[T]:
    """The awaitable an asyncio client's command returned (a blocking client's is a bug)."""
    if not inspect.isawaitable(command):
        raise TypeError(f"expected an asyncio Redis command, got {command!r}")
    return command
