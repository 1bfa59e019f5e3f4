"""One post at a time in a channel, in the order they asked, while other channels go on.

The delivery consumer posts many clips side by side; in one channel they take turns, so a burst
there is posted in the order it finished and discord.py's bucket for the channel is never asked
for more at once than it has. A channel's lock is forgotten when nobody holds or waits for it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator


class ChannelLocks:
    def __init__(self) -> None:
        self._locks: dict[int, tuple[asyncio.Lock, int]] = {}  # a lock, how many use it

    @contextlib.asynccontextmanager
    async def hold(self, channel_id: int) -> AsyncIterator[None]:
        lock, users = self._locks.get(channel_id, (asyncio.Lock(), 0))
        self._locks[channel_id] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks.pop(channel_id)
            if users > 1:
                self._locks[channel_id] = (lock, users - 1)
