"""The worker's Prometheus metrics: what they count, how they are labelled, and their endpoint."""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import aiohttp
import pytest
from arq import Retry
from prometheus_client.exposition import generate_latest

from core.fairshare import size_class
from core.spec import RenderSpec
from jobs.admission import Admission
from jobs.metrics_endpoint import MetricsEndpoint
from tests.jobs.test_admission import ROOMY, job, start_workers
from worker.metrics import OUTCOMES, WorkerMetrics, count_outcomes

pytestmark = pytest.mark.timeout(60)

SPEC = RenderSpec(
    prompt="a fox",
    aspect_ratio="16:9",
    width=512,
    height=288,
    num_frames=24,
    steps=20,
    seed=1,
    backend="tiny",
)
TIMINGS = {"pickup": 40.0, "load": 9.0, "denoise": 4.0, "decode": 0.5, "encode": 1.0, "store": 0.1}


def value(metrics: WorkerMetrics, name: str, **labels: str) -> float | None:
    return metrics.registry.get_sample_value(name, labels)


async def test_outcomes_are_counted_from_what_the_task_returns_or_raises() -> None:
    metrics = WorkerMetrics()
    answers: list[Any] = [
        {"status": "done"},
        {"status": "done", "held": False},
        {"status": "done", "held": True},
        {"status": "blocked"},
        {"status": "cancelled"},
        Retry(defer=1),
    ]

    async def task(ctx: dict[str, Any], payload: dict[str, Any]) -> dict[str, Any]:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    counted = count_outcomes(task)
    ctx = {"metrics": metrics}
    for _ in range(5):
        await counted(ctx, {})
    with pytest.raises(Retry):
        await counted(ctx, {})

    counts = {o: value(metrics, "reelbot_worker_jobs_total", outcome=o) for o in OUTCOMES}
    assert counts == {
        "done": 2,
        "held": 1,
        "blocked": 1,
        "cancelled": 1,
        "retried": 1,
        "failed": 0,  # every outcome is there from the start
        "superseded": 0,
        "rejected": 0,
    }
    assert (
        'reelbot_worker_jobs_total{outcome="held"} 1.0'
        in generate_latest(metrics.registry).decode()
    )


def test_a_render_is_observed_by_backend_size_and_phase() -> None:
    metrics = WorkerMetrics()
    metrics.observe_render(SPEC, TIMINGS)

    size = str(size_class(SPEC.width, SPEC.height, SPEC.num_frames, SPEC.steps))
    labels = {"backend": "tiny", "size": size}
    # the work is denoise to store; waiting for pickup and loading the model are not
    assert value(metrics, "reelbot_worker_render_seconds_count", **labels) == 1
    assert value(metrics, "reelbot_worker_render_seconds_sum", **labels) == pytest.approx(5.6)
    assert value(metrics, "reelbot_worker_render_seconds_bucket", **labels, le="5.0") == 0
    assert value(metrics, "reelbot_worker_render_seconds_bucket", **labels, le="10.0") == 1
    assert value(metrics, "reelbot_worker_phase_seconds_sum", phase="denoise") == 4.0
    assert value(metrics, "reelbot_worker_phase_seconds_count", phase="encode") == 1
    assert value(metrics, "reelbot_worker_phase_seconds_count", phase="pickup") is None
    assert value(metrics, "reelbot_worker_steps_per_second", backend="tiny") == 5.0  # 20 / 4 s

    text = generate_latest(metrics.registry).decode()
    assert f'reelbot_worker_render_seconds_count{{backend="tiny",size="{size}"}} 1.0' in text
    assert 'reelbot_worker_steps_per_second{backend="tiny"} 5.0' in text


def test_a_bigger_clip_lands_in_another_size_class() -> None:
    metrics = WorkerMetrics()
    metrics.observe_render(SPEC, TIMINGS)
    metrics.observe_render(SPEC.model_copy(update={"steps": 80}), TIMINGS)
    sizes = {
        s.labels["size"]
        for m in metrics.registry.collect()
        if m.name == "reelbot_worker_render_seconds"
        for s in m.samples
        if s.name.endswith("_count")
    }
    assert len(sizes) == 2


def test_waits_are_measured_from_the_request_and_from_admission() -> None:
    metrics = WorkerMetrics()
    now = datetime.now(UTC)
    metrics.observe_wait(now - timedelta(seconds=100), now - timedelta(seconds=20))
    bucket = "reelbot_worker_wait_seconds_bucket"
    assert value(metrics, bucket, since="request", le="60.0") == 0
    assert value(metrics, bucket, since="request", le="120.0") == 1
    assert value(metrics, bucket, since="admission", le="15.0") == 0
    assert value(metrics, bucket, since="admission", le="30.0") == 1
    metrics.observe_wait(None, now)  # a row the worker cannot see: only the arq wait
    assert value(metrics, "reelbot_worker_wait_seconds_count", since="request") == 1
    assert value(metrics, "reelbot_worker_wait_seconds_count", since="admission") == 2


class FakeCuda:
    """torch.cuda as far as the metrics read it."""

    def __init__(self) -> None:
        self.peak = {None: 3_000, "cuda:1": 7_000}
        self.resets: list[str | None] = []

    def is_available(self) -> bool:
        return True

    def is_initialized(self) -> bool:
        return True

    def max_memory_allocated(self, device: str | None = None) -> int:
        return self.peak[device]

    def memory_reserved(self, device: str | None = None) -> int:
        return 2 * self.peak[device]

    def reset_peak_memory_stats(self, device: str | None = None) -> None:
        self.resets.append(device)


def test_gpu_memory_is_read_only_when_torch_is_in_use(monkeypatch: pytest.MonkeyPatch) -> None:
    metrics = WorkerMetrics()
    monkeypatch.delitem(sys.modules, "torch", raising=False)
    metrics.observe_render(SPEC, TIMINGS)
    assert "reelbot_worker_gpu_memory_bytes{" not in generate_latest(metrics.registry).decode()
    assert "torch" not in sys.modules  # and never imported for it

    cuda = FakeCuda()
    monkeypatch.setitem(sys.modules, "torch", SimpleNamespace(cuda=cuda))
    metrics.observe_render(SPEC, TIMINGS, device="cuda:1")
    assert value(metrics, "reelbot_worker_gpu_memory_bytes", kind="peak_allocated") == 7_000
    assert value(metrics, "reelbot_worker_gpu_memory_bytes", kind="reserved") == 14_000
    assert cuda.resets == ["cuda:1"]  # the next clip's peak is its own
    metrics.observe_gpu("auto")
    assert value(metrics, "reelbot_worker_gpu_memory_bytes", kind="peak_allocated") == 3_000


async def test_queue_depths_per_tier_come_from_redis(redis) -> None:
    admission = Admission(redis)
    await start_workers(redis, 1)  # one fast worker: its queue is filled to 2, the rest waits
    for n in range(3):
        await admission.enqueue(job("alice", n), caps=ROOMY)
    await admission.enqueue(job("bob", 9), caps=ROOMY, tier="relax")
    await admission.admit()

    metrics = WorkerMetrics()
    await metrics.refresh_queues(admission)
    depths = {
        (tier, stage): value(metrics, "reelbot_worker_queue_jobs", tier=tier, stage=stage)
        for tier in ("fast", "relax")
        for stage in ("waiting", "queued")
    }
    assert depths == {
        ("fast", "waiting"): 1,
        ("fast", "queued"): 2,
        ("relax", "waiting"): 1,
        ("relax", "queued"): 0,
    }


async def test_the_endpoint_serves_the_registry_and_survives_a_failed_refresh() -> None:
    metrics = WorkerMetrics()
    metrics.count("done")
    refreshes = 0

    async def refresh() -> None:
        nonlocal refreshes
        refreshes += 1
        if refreshes == 2:
            raise ConnectionError("redis is restarting")
        metrics.queue.labels("fast", "waiting").set(refreshes)

    endpoint = MetricsEndpoint(metrics.registry, before_scrape=refresh, host="127.0.0.1")
    await endpoint.start(0)
    try:
        assert endpoint.port > 0
        url = f"http://127.0.0.1:{endpoint.port}/metrics"
        async with aiohttp.ClientSession() as session:
            bodies = []
            for _ in range(2):
                async with session.get(url) as response:
                    assert response.status == 200
                    assert response.headers["Content-Type"].startswith("text/plain")
                    bodies.append(await response.text())
            async with session.get(f"http://127.0.0.1:{endpoint.port}/") as response:
                assert response.status == 404
    finally:
        await endpoint.stop()
    for body in bodies:
        assert 'reelbot_worker_jobs_total{outcome="done"} 1.0' in body
        # the failed refresh keeps the last value instead of blanking the page
        assert 'reelbot_worker_queue_jobs{stage="waiting",tier="fast"} 1.0' in body
