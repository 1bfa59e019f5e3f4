"""A story's progress edit says which shot renders: "rendering shot 2/3 · `…` 12/30"."""

from __future__ import annotations

import asyncio
from typing import Any

from bot.delivery.progress import ProgressTracker
from bot.delivery.targets import DeliveryTarget, save_target
from core.flags import parse_request
from core.spec import ProgressEvent
from jobs.events import publish_event
from tests.bot.capabilities import CAPS
from tests.bot.test_progress import Channel


async def test_a_story_step_says_its_shot_and_a_clip_step_does_not(redis: Any) -> None:
    edits: asyncio.Queue[str] = asyncio.Queue()
    tracker = ProgressTracker(client=Channel(edits), redis=redis, store=None)  # type: ignore[arg-type]
    story, clip = "b" * 32, "c" * 32
    for gid in (story, clip):
        await save_target(redis, gid, DeliveryTarget(channel_id=1, status_message_id=2, user_id=3))
        tracker.track(gid, parse_request("a fox | a hen -seed 1", capabilities=CAPS))
    reader = asyncio.create_task(tracker.run())
    try:
        step = ProgressEvent(kind="step", step=12, total=30, message="shot 2/3")
        await publish_event(redis, story, step)
        shown = await asyncio.wait_for(edits.get(), 10)
        assert "<@3> rendering shot 2/3 · `" in shown and " 12/30 · " in shown
        await publish_event(redis, clip, ProgressEvent(kind="step", step=3, total=30))
        plain = await asyncio.wait_for(edits.get(), 10)
        assert "shot" not in plain and "<@3> rendering `" in plain
    finally:
        reader.cancel()
        await asyncio.gather(reader, return_exceptions=True)
