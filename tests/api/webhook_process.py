"""An API process of its own, webhook loops at the tests' timings, for tests that kill one:
`python -m tests.api.webhook_process REDIS_URL DATABASE_URL DATA_DIR`. Prints "ready PORT"."""

from __future__ import annotations

import asyncio
import sys
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

from aiohttp import web

from api.app import bound_port, close_context, make_app
from tests.api.webhooks_harness import FAST, context_for, settings_for, with_webhooks

# An attempt outlives the moment a test kills the process: the kill lands mid-delivery.
SLOW_ANSWERS = replace(FAST, timeout_s=3.0, lease=timedelta(seconds=4))


async def main(redis_url: str, database_url: str, data_dir: str) -> None:
    ctx = await context_for(settings_for(redis_url, database_url, Path(data_dir)))
    runner = web.AppRunner(make_app(ctx, with_webhooks(SLOW_ANSWERS)), access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        print("ready", bound_port(runner), flush=True)
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()
        await close_context(ctx)


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))
