"""Run the bot's event loop on uvloop where it is installed (Linux and macOS).

The bot's work per request is small and all on one loop, so the loop's own overhead (callbacks,
sockets, timers) is a large share of it; uvloop's libuv loop runs the same code with less.
Windows has no uvloop: there the standard loop runs, with the same behaviour.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's loop constructor, or None (the standard loop) where uvloop is missing."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def run(main: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run`, on the fastest loop this machine has."""
    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        return runner.run(main)
