"""The progress reader against a real Redis: with more clips in flight than one XREAD takes,
every clip's events still arrive, in a few reads; once a clip is finished, no edit follows."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from bot.delivery import progress
from bot.delivery.progress import ProgressTracker
from bot.delivery.targets import DeliveryTarget, save_target
from core.flags import parse_request
from core.spec import ProgressEvent
from jobs.events import publish_event
from tests.bot.capabilities import CAPS


class Recording(ProgressTracker):
    """Records which clips' events it read instead of editing Discord messages."""

    def __init__(self, redis: Any) -> None:
        super().__init__(client=None, redis=redis, store=None)  # type: ignore[arg-type]
        self.seen: asyncio.Queue[str] = asyncio.Queue()

    async def _on_event(self, gid: str, entry_id: bytes | str, fields: dict) -> None:
        self.watched[gid].last_id = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
        await self.seen.put(gid)


@pytest.mark.parametrize("per_read", [4, 500])
async def test_a_clip_far_down_the_watch_list_gets_its_progress(
    redis: Any, monkeypatch: pytest.MonkeyPatch, per_read: int
) -> None:
    monkeypatch.setattr(progress, "STREAMS_PER_READ", per_read)
    tracker = Recording(redis)
    spec = parse_request("a fox -seed 1", capabilities=CAPS)
    gids = [f"g{i:03}" for i in range(30)]  # 7½ windows of 4
    for gid in gids:
        tracker.track(gid, spec)
    reader = asyncio.create_task(tracker.run())
    try:
        for gid in (gids[-1], gids[17], gids[0]):  # past the first window, then inside it
            await publish_event(redis, gid, ProgressEvent(kind="step", step=1, total=4))
            assert await asyncio.wait_for(tracker.seen.get(), 10) == gid
    finally:
        reader.cancel()
        await asyncio.gather(reader, return_exceptions=True)


class Channel:
    """A stand-in for discord.py's partial messageable: records each edit's text."""

    def __init__(self, edits: asyncio.Queue[str]) -> None:
        self.edits = edits

    def get_partial_messageable(self, channel_id: int) -> Channel:
        return self

    def get_partial_message(self, message_id: int) -> Channel:
        return self

    async def edit(self, *, content: str) -> None:
        await self.edits.put(content)


async def test_no_progress_edit_follows_finish(redis: Any) -> None:
    edits: asyncio.Queue[str] = asyncio.Queue()
    tracker = ProgressTracker(client=Channel(edits), redis=redis, store=None)  # type: ignore[arg-type]
    gid = "a" * 32
    await save_target(redis, gid, DeliveryTarget(channel_id=1, status_message_id=2, user_id=3))
    tracker.track(gid, parse_request("a fox -seed 1", capabilities=CAPS))
    reader = asyncio.create_task(tracker.run())
    try:
        await publish_event(redis, gid, ProgressEvent(kind="step", step=1, total=40))
        assert " 1/40 " in await asyncio.wait_for(edits.get(), 10)
        await tracker.finish(gid)  # its result is about to be posted
        for step in (2, 3):  # late events: never shown (a second clip's tell when they'd be read)
            await publish_event(redis, gid, ProgressEvent(kind="step", step=step, total=40))
        other = "b" * 32
        await save_target(
            redis, other, DeliveryTarget(channel_id=1, status_message_id=4, user_id=3)
        )
        tracker.track(other, parse_request("a fox -seed 2", capabilities=CAPS))
        await publish_event(redis, other, ProgressEvent(kind="step", step=7, total=40))
        assert " 7/40 " in await asyncio.wait_for(edits.get(), 10)  # the other clip's, only
        assert edits.empty()
    finally:
        reader.cancel()
        await asyncio.gather(reader, return_exceptions=True)
        await tracker.close()
