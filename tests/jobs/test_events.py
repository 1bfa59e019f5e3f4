"""Progress event streams on a real Redis: readable to the end, then gone within minutes."""

from __future__ import annotations

import pytest

from core.spec import ProgressEvent
from jobs.events import EVENTS_TTL_S, FINISHED_TTL_S, follow_events, publish_event
from jobs.keys import events_key

pytestmark = pytest.mark.timeout(30)
GID = "ab" * 16


@pytest.mark.parametrize("end", ["done", "failed"])
async def test_a_finished_clips_events_live_minutes_not_a_day(redis, end: str) -> None:
    await publish_event(redis, GID, ProgressEvent(kind="queued"))
    await publish_event(redis, GID, ProgressEvent(kind="step", step=1, total=2))
    assert FINISHED_TTL_S < await redis.ttl(events_key(GID)) <= EVENTS_TTL_S  # on its way
    await publish_event(redis, GID, ProgressEvent(kind=end))  # type: ignore[arg-type]
    assert 0 < await redis.ttl(events_key(GID)) <= FINISHED_TTL_S
    # a reader that comes late (a bot restarting, `reelbot create`) still reads the whole story
    assert [e.kind async for e in follow_events(redis, GID)] == ["queued", "step", end]
