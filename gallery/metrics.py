"""Prometheus metrics for the gallery web: requests by route and status, latency, clip counts.

Each app has its own registry (no process-wide state, so tests and several apps in one process
never collide). Routes are labelled by their pattern (`/clips/{id}`), never by the raw path, so
the label set stays small whatever people request; likewise a method outside METHODS is
"other" (aiohttp's pure-Python parser takes any method name a client makes up). `/metrics` is
never on the public app: it is `metrics_app`, which `gallery.web.serve` puts on a port of its
own (REELBOT_GALLERY_METRICS_PORT) for the operator's scraper, the way the bot and the worker
serve theirs.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import generate_latest

from gallery.browse import BrowseStore

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
LATENCY_BUCKETS = (0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "reelbot_gallery_requests",
            "HTTP requests answered, by route pattern, method and status.",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "reelbot_gallery_request_seconds",
            "Time to answer an HTTP request, by route pattern.",
            ["route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.clips = Gauge(
            "reelbot_gallery_clips",
            "Generation requests in the gallery database, by status.",
            ["status"],
            registry=self.registry,
        )
        self.public = Gauge(
            "reelbot_gallery_public_clips",
            "Clips anyone can see (done, not hidden, deleted or moderated).",
            registry=self.registry,
        )

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        started = time.perf_counter()
        status = 500
        try:
            response = await handler(request)
            status = response.status
            return response
        except web.HTTPException as exc:
            status = exc.status
            raise
        finally:
            route = _route(request)
            method = request.method if request.method in METHODS else "other"
            self.requests.labels(route, method, str(status)).inc()
            self.latency.labels(route).observe(time.perf_counter() - started)

    async def scrape(self, browse: BrowseStore) -> web.Response:
        counts, public = await asyncio.to_thread(browse.status_counts)
        for status, count in counts.items():
            self.clips.labels(status).set(count)
        self.public.set(public)
        body = generate_latest(self.registry)
        response = web.Response(body=body)
        response.headers["Content-Type"] = CONTENT_TYPE_LATEST
        return response


METRICS = web.AppKey("metrics", Metrics)


def metrics_app(metrics: Metrics, browse: BrowseStore) -> web.Application:
    """`GET /metrics` alone, for the private port: the public app's counters and clip counts."""

    async def page(request: web.Request) -> web.Response:
        return await metrics.scrape(browse)

    app = web.Application()
    app.router.add_get("/metrics", page)
    return app


def _route(request: web.Request) -> str:
    info = request.match_info
    resource = info.route.resource if info.http_exception is None else None
    return resource.canonical if resource is not None else "unmatched"
