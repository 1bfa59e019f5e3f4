"""`GET /metrics` on a port of its own, for every process that keeps a Prometheus registry."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry
from prometheus_client.exposition import generate_latest

log = logging.getLogger(__name__)

SCRAPE_TIMEOUT_S = 5.0


class MetricsEndpoint:
    """`GET /metrics` for one registry on its own port, in the running event loop.

    `before_scrape` refreshes what is read on demand; when it fails, the last values are served
    (a Redis blip must not blank every other series). Port 0 picks a free port (see `port`).
    """

    def __init__(
        self,
        registry: CollectorRegistry,
        *,
        before_scrape: Callable[[], Awaitable[None]] | None = None,
        host: str = "0.0.0.0",
    ) -> None:
        self.registry = registry
        self.before_scrape = before_scrape
        self.host = host
        self.port = 0
        self._runner: web.AppRunner | None = None

    async def start(self, port: int) -> None:
        app = web.Application()
        app.router.add_get("/metrics", self._handle)
        runner = web.AppRunner(app, access_log=None)  # no log line per scrape
        await runner.setup()
        try:
            await web.TCPSite(runner, self.host, port).start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self.port = int(runner.addresses[0][1])
        log.info("metrics on http://%s:%d/metrics", self.host, self.port)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _handle(self, request: web.Request) -> web.Response:
        if self.before_scrape is not None:
            try:
                async with asyncio.timeout(SCRAPE_TIMEOUT_S):
                    await self.before_scrape()
            except Exception as exc:
                log.warning("metrics: queue depths not refreshed: %s", exc)
        response = web.Response(body=generate_latest(self.registry))
        response.headers["Content-Type"] = CONTENT_TYPE_LATEST
        return response
