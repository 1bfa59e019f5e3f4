"""Progress edits paced per channel, so a finished clip's post never waits behind them.

Discord allows 5 message edits per 5 s in a channel, and answers a channel's edits and posts
with one rate-limit bucket hash, under which discord.py queues both: edits sent faster than
that budget pile up there, land late and out of order, and hold the channel's results back.
So in each channel:
- one edit at a time, and at most one every `CHANNEL_EDIT_INTERVAL_S` (4 in 5 s: room left for
  a moderator's edit);
- each clip keeps only its newest state (a newer step replaces the one not yet sent), edited
  at most every `CLIP_EDIT_INTERVAL_S`;
- the clips take turns: the one edited longest ago goes next;
- a finished clip's pending edit is dropped and its edit in flight waited for, so no progress
  edit lands after its result.
`Turns` decides (pure, the clock passed in); `EditPacer` runs one task per busy channel, and
forgets a channel once its last edits pace nothing (a bot in many channels keeps only the busy).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import math
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

log = logging.getLogger(__name__)

S = TypeVar("S")

CHANNEL_EDIT_INTERVAL_S = 1.25  # Discord allows 5 edits / 5 s per channel
CLIP_EDIT_INTERVAL_S = 3.0  # members need no more for one clip
FINISH_WAIT_S = 1.0  # a finished clip's edit in flight, waited for before its result is posted

_order = itertools.count()


@dataclass
class Turns(Generic[S]):
    """One channel's edits: the newest state of each clip waiting, and whose turn is next."""

    channel_interval: float = CHANNEL_EDIT_INTERVAL_S
    clip_interval: float = CLIP_EDIT_INTERVAL_S
    pending: dict[str, S] = field(default_factory=dict)
    last_edit: dict[str, float] = field(default_factory=dict)  # when each clip's last edit went
    first_offer: dict[str, int] = field(default_factory=dict)  # ties among never-edited clips
    last_sent: float = -math.inf

    def offer(self, clip: str, state: S) -> None:
        """The clip's newest state; it replaces one not sent yet."""
        self.pending[clip] = state
        self.first_offer.setdefault(clip, next(_order))

    def drop(self, clip: str) -> None:
        """Forget the clip: finished, or its message is gone."""
        self.pending.pop(clip, None)
        self.last_edit.pop(clip, None)
        self.first_offer.pop(clip, None)

    def next_at(self) -> float | None:
        """When the next edit may go (None: nothing waits)."""
        if not self.pending:
            return None
        soonest = min(self._ready_at(clip) for clip in self.pending)
        return max(self.last_sent + self.channel_interval, soonest)

    def take(self, now: float) -> tuple[str, S] | None:
        """The edit to send now, if one may go: the waiting clip edited longest ago."""
        if now < self.last_sent + self.channel_interval:
            return None
        ready = [clip for clip in self.pending if self._ready_at(clip) <= now]
        if not ready:
            return None
        clip = min(ready, key=lambda c: (self.last_edit.get(c, -math.inf), self.first_offer[c]))
        self.last_edit[clip] = self.last_sent = now
        return clip, self.pending.pop(clip)

    def quiet_at(self) -> float:
        """From when no edit sent paces the next any more (the channel's, and each clip's)."""
        clips = (at + self.clip_interval for at in self.last_edit.values())
        return max([self.last_sent + self.channel_interval, *clips])

    def _ready_at(self, clip: str) -> float:
        return self.last_edit.get(clip, -math.inf) + self.clip_interval


class EditPacer(Generic[S]):
    """Sends each channel's edits in turns through `send(clip, state)`, one task per channel
    with edits waiting (it ends when none are left)."""

    def __init__(
        self,
        send: Callable[[str, S], Coroutine[Any, Any, None]],
        *,
        channel_interval: float = CHANNEL_EDIT_INTERVAL_S,
        clip_interval: float = CLIP_EDIT_INTERVAL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._send = send
        self._intervals = (channel_interval, clip_interval)
        self._clock = clock
        self._turns: dict[int, Turns[S]] = {}  # kept while a channel's last edit paces its next
        self._channel_of: dict[str, int] = {}
        self._wake: dict[int, asyncio.Event] = {}
        self._servers: dict[int, asyncio.Task[None]] = {}
        self._in_flight: dict[str, asyncio.Task[None]] = {}

    @property
    def channels(self) -> int:
        """How many channels' pacing is kept."""
        return len(self._turns)

    def offer(self, channel_id: int, clip: str, state: S) -> None:
        turns = self._turns.get(channel_id)
        if turns is None:
            turns = self._turns[channel_id] = Turns(*self._intervals)
            self._wake[channel_id] = asyncio.Event()
        self._channel_of[clip] = channel_id
        turns.offer(clip, state)
        self._wake[channel_id].set()
        if channel_id not in self._servers:
            task = asyncio.create_task(self._serve(channel_id), name=f"edits-{channel_id}")
            self._servers[channel_id] = task

    def drop(self, clip: str) -> None:
        """No more edits for the clip (one in flight still lands)."""
        channel_id = self._channel_of.pop(clip, None)
        turns = None if channel_id is None else self._turns.get(channel_id)
        if turns is not None:
            turns.drop(clip)

    async def finish(self, clip: str, *, wait: float = FINISH_WAIT_S) -> None:
        """No more edits for the clip, and none in flight once this returns: one still on its way
        after `wait` seconds (held by Discord's limits) is cancelled."""
        self.drop(clip)
        edit = self._in_flight.get(clip)
        if edit is None:
            return
        _, late = await asyncio.wait({edit}, timeout=wait)
        if late:
            log.warning("a progress edit took over %.1f s; cancelled", wait)
            edit.cancel()
            await asyncio.wait({edit})

    async def _serve(self, channel_id: int) -> None:
        """The channel's edits in turns; once none wait and its last edits pace nothing any
        more (`Turns.quiet_at`), the channel is forgotten: an offer after that starts afresh."""
        turns, wake = self._turns[channel_id], self._wake[channel_id]
        try:
            while True:
                now = self._clock()
                due = turns.next_at()
                at = turns.quiet_at() if due is None else due
                if due is None and now >= at:
                    return
                taken = turns.take(now) if due is not None and at <= now else None
                if taken is None:
                    wake.clear()  # an offer may make an earlier edit due
                    # asyncio.timeout, not wait_for: 3.11's wait_for can swallow a cancel
                    # (close()) that lands as the wake fires, and this loop would run on
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(max(at - now, 0.001)):
                            await wake.wait()
                    continue
                clip, state = taken
                edit = asyncio.create_task(self._send(clip, state))
                self._in_flight[clip] = edit
                try:
                    await asyncio.wait({edit})
                finally:
                    if self._in_flight.get(clip) is edit:
                        del self._in_flight[clip]
                if not edit.cancelled() and (exc := edit.exception()) is not None:
                    log.warning("progress edit failed: %r", exc)
        finally:  # no await since the last look: an offer meanwhile found this task running
            del self._servers[channel_id], self._turns[channel_id], self._wake[channel_id]

    async def close(self) -> None:
        tasks = [*self._servers.values(), *self._in_flight.values()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
