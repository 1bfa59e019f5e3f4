"""The worker's /metrics show how many finished clips wait in the result stream."""

from __future__ import annotations

import pytest

from core.spec import ResultRecord
from jobs.admission import Admission
from jobs.keys import RESULT_STREAM
from jobs.results import acknowledge, publish_result_once
from worker.metrics import WorkerMetrics

pytestmark = pytest.mark.timeout(30)


def entries(metrics: WorkerMetrics, state: str) -> float | None:
    return metrics.registry.get_sample_value(
        "reelbot_worker_result_stream_entries", {"state": state}
    )


async def test_the_result_streams_length_is_read_at_each_scrape(redis) -> None:
    metrics = WorkerMetrics()
    admission = Admission(redis)
    for n in range(3):
        await publish_result_once(redis, ResultRecord(generation_id=f"{n:032x}", status="done"))
    await metrics.refresh_queues(admission)
    assert [entries(metrics, s) for s in ("stored", "pending", "unread")] == [3, 0, 3]

    await redis.xgroup_create(RESULT_STREAM, "reelbot-bot", id="0")
    replies = await redis.xreadgroup("reelbot-bot", "bot-1", {RESULT_STREAM: ">"}, count=2)
    for _stream, page in replies:
        for entry_id, _fields in page:
            await acknowledge(redis, "reelbot-bot", entry_id)  # both posted
    await metrics.refresh_queues(admission)
    assert [entries(metrics, s) for s in ("stored", "pending", "unread")] == [1, 0, 1]
