"""A real `python -m worker` serves Prometheus metrics over HTTP while it renders."""

from __future__ import annotations

import re
import socket
from pathlib import Path

import aiohttp
import pytest

from core.capabilities import capabilities_for
from core.fairshare import size_class
from core.flags import parse_request
from gallery.db import make_engine, migrate
from gallery.store import GalleryStore
from tests.harness.waiting import eventually
from tests.harness.workers import WorkerProcesses, submit_admitted

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def sample(text: str, series: str) -> float | None:
    """The value of one exposition line, `name{labels}` written exactly as served."""
    match = re.search(rf"^{re.escape(series)} (\S+)$", text, flags=re.MULTILINE)
    return None if match is None else float(match[1])


async def scrape(url: str) -> str:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        assert response.status == 200
        return await response.text()


async def test_a_worker_serves_its_metrics_after_rendering_a_clip(
    redis_server, redis, workers: WorkerProcesses, data_dir: Path
) -> None:
    port = free_port()
    workers.env["REELBOT_METRICS_PORT"] = str(port)
    workers.start()
    engine = make_engine(f"sqlite:///{data_dir / 'reelbot.db'}")
    migrate(engine)
    store = GalleryStore(engine)
    spec = parse_request("a kite over the dunes -seed 5", capabilities=capabilities_for("tiny"))

    gid = await submit_admitted(redis_server.url, store, spec)
    url = f"http://127.0.0.1:{port}/metrics"

    async def scraped() -> str | None:
        try:
            return await scrape(url)
        except aiohttp.ClientConnectionError:  # not listening until the model is loaded
            return None

    # the render, then the count right after the announcement
    text = await eventually(
        scraped,
        lambda text: (sample(text, 'reelbot_worker_jobs_total{outcome="done"}') or 0) >= 1,
        timeout=120,
        every=0.2,
    )
    engine.dispose()

    row = store.get(gid)
    assert row is not None and row.status == "done", workers.logs()
    assert sample(text, 'reelbot_worker_jobs_total{outcome="failed"}') == 0
    size = size_class(spec.width, spec.height, spec.num_frames, spec.steps)
    assert sample(text, f'reelbot_worker_render_seconds_count{{backend="tiny",size="{size}"}}') == 1
    assert sample(text, 'reelbot_worker_phase_seconds_count{phase="denoise"}') == 1
    assert (sample(text, 'reelbot_worker_steps_per_second{backend="tiny"}') or 0) > 0
    assert sample(text, 'reelbot_worker_wait_seconds_count{since="request"}') == 1
    # read from Redis at the scrape: nothing waits any more
    assert sample(text, 'reelbot_worker_queue_jobs{stage="waiting",tier="fast"}') == 0
