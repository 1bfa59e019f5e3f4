"""Prometheus metrics of a render worker: job outcomes, phase times, speed, GPU memory, queues.

Each worker has its own registry (no process-wide state, as `gallery.metrics`), served by a small
aiohttp endpoint inside the worker's event loop on `REELBOT_METRICS_PORT`. Queue depths are read
from Redis when Prometheus scrapes, so they are never staler than the scrape; they are the same
for every worker (the queues are shared): aggregate them with max(), not sum(). So is the result
stream's length: finished clips waiting for the bot to post them.

This module imports no torch: GPU memory is read only when the backend has loaded torch and used
CUDA already. The HTTP side is `jobs.metrics_endpoint`, shared with the bot.
"""

from __future__ import annotations

import functools
import logging
import sys
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from arq import Retry
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from core.fairshare import NOT_WORK, TIERS, size_class
from core.spec import RenderSpec
from jobs.metrics_endpoint import MetricsEndpoint
from jobs.results import results_backlog

if TYPE_CHECKING:
    from jobs.admission import Admission

log = logging.getLogger(__name__)

OUTCOMES = ("done", "failed", "retried", "cancelled", "blocked", "held", "superseded", "rejected")
RENDER_BUCKETS = (1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 180.0, 300.0, 600.0, 1200.0)
PHASE_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0)
WAIT_BUCKETS = (0.1, 0.5, 1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0, 14400.0)

Task = Callable[[dict[str, Any], dict[str, Any]], Awaitable[dict[str, Any]]]


class WorkerMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.jobs = Counter(
            "reelbot_worker_jobs",
            "Render jobs ended, by outcome (retried: this attempt failed and is tried again).",
            ["outcome"],
            registry=self.registry,
        )
        for outcome in OUTCOMES:  # every series exists from the start, so rate() sees the first
            self.jobs.labels(outcome)
        self.render = Histogram(
            "reelbot_worker_render_seconds",
            "Work time of one clip, denoise to stored (what ETAs learn from), by backend and "
            "size class (log2 of width x height x frames x steps, as the scheduler's ETAs).",
            ["backend", "size"],
            buckets=RENDER_BUCKETS,
            registry=self.registry,
        )
        self.phase = Histogram(
            "reelbot_worker_phase_seconds",
            "Time of one phase of a render (denoise, decode, scan, encode, upload, ...).",
            ["phase"],
            buckets=PHASE_BUCKETS,
            registry=self.registry,
        )
        self.steps = Gauge(
            "reelbot_worker_steps_per_second",
            "Denoising steps per second of the last clip rendered, by backend.",
            ["backend"],
            registry=self.registry,
        )
        self.wait = Histogram(
            "reelbot_worker_wait_seconds",
            "Wait before a worker picked a clip up (first attempts only), since the request "
            "was recorded (since=request) or since the fair scheduler admitted it to arq "
            "(since=admission).",
            ["since"],
            buckets=WAIT_BUCKETS,
            registry=self.registry,
        )
        self.gpu = Gauge(
            "reelbot_worker_gpu_memory_bytes",
            "CUDA memory of the last clip: peak allocated during it, and reserved after it.",
            ["kind"],
            registry=self.registry,
        )
        self.queue = Gauge(
            "reelbot_worker_queue_jobs",
            "Jobs per tier: waiting in the fair scheduler's member lists (stage=waiting), or in "
            "the tier's arq queue, rendering included (stage=queued). Shared by all workers.",
            ["tier", "stage"],
            registry=self.registry,
        )

        self.results = Gauge(
            "reelbot_worker_result_stream_entries",
            "Finished clips in the result stream (state=stored; trimmed once delivered): read "
            "by the bot and not acknowledged yet (state=pending), not read yet (state=unread). "
            "Shared by all workers.",
            ["state"],
            registry=self.registry,
        )

    def count(self, outcome: str) -> None:
        self.jobs.labels(outcome).inc()

    def observe_wait(self, requested: datetime | None, admitted: datetime) -> None:
        """A first attempt was picked up now: how long it waited since each mark."""
        now = time.time()
        if requested is not None:
            self.wait.labels("request").observe(max(0.0, now - requested.timestamp()))
        self.wait.labels("admission").observe(max(0.0, now - admitted.timestamp()))

    def observe_render(
        self, spec: RenderSpec, timings: Mapping[str, float], *, device: str = "auto"
    ) -> None:
        """One clip rendered and stored: its work time, its phases, its speed, its GPU memory."""
        work = [seconds for phase, seconds in timings.items() if phase not in NOT_WORK]
        if work:
            size = size_class(spec.width, spec.height, spec.num_frames, spec.steps)
            self.render.labels(spec.backend, str(size)).observe(sum(work))
        for phase, seconds in timings.items():
            if phase not in NOT_WORK:
                self.phase.labels(phase).observe(seconds)
        denoise = timings.get("denoise", 0.0)
        if denoise > 0:
            self.steps.labels(spec.backend).set(spec.steps / denoise)
        self.observe_gpu(device)

    def observe_gpu(self, device: str = "auto") -> None:
        """Peak and reserved CUDA memory since the last clip; nothing when CUDA is not in use.

        Never imports torch: a worker whose backend did not load it has no GPU to report."""
        torch: Any = sys.modules.get("torch")
        if torch is None or not torch.cuda.is_available() or not torch.cuda.is_initialized():
            return
        where = device if device.startswith("cuda") else None
        self.gpu.labels("peak_allocated").set(torch.cuda.max_memory_allocated(where))
        self.gpu.labels("reserved").set(torch.cuda.memory_reserved(where))
        torch.cuda.reset_peak_memory_stats(where)  # the next clip's peak is its own

    async def refresh_queues(self, admission: Admission) -> None:
        """Read the queue depths and the result stream's length from Redis."""
        snap = await admission.snapshot()
        for tier in TIERS:  # every model family's together
            self.queue.labels(tier, "waiting").set(snap.waiting(tier))
            self.queue.labels(tier, "queued").set(snap.queued(tier))
        backlog = await results_backlog(admission.redis)
        self.results.labels("stored").set(backlog.length)
        self.results.labels("pending").set(backlog.pending)
        if backlog.unread is not None:  # unknown for a moment after some trims: keep the last
            self.results.labels("unread").set(backlog.unread)

    async def serve(self, port: int, admission: Admission | None = None) -> MetricsEndpoint:
        """Start the /metrics endpoint; queue depths read from `admission` at every scrape."""
        before = None if admission is None else functools.partial(self.refresh_queues, admission)
        endpoint = MetricsEndpoint(self.registry, before_scrape=before)
        await endpoint.start(port)
        return endpoint


def count_outcomes(task: Task) -> Task:
    """`task` with its outcome counted in `ctx["metrics"]`: the status it returns ("held" when
    it returns `held`), or "retried" when it raises arq's Retry."""

    @functools.wraps(task)
    async def counted(ctx: dict[str, Any], payload: dict[str, Any]) -> dict[str, Any]:
        metrics: WorkerMetrics = ctx["metrics"]
        try:
            result = await task(ctx, payload)
        except Retry:
            metrics.count("retried")
            raise
        metrics.count("held" if result.get("held") else str(result.get("status")))
        return result

    return counted
