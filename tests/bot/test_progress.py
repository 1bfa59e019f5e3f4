"""The progress reader against a real Redis: with more clips in flight than one XREAD takes,
every clip's events still arrive, in a few reads."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from bot.delivery import progress
from bot.delivery.progress import ProgressTracker
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
