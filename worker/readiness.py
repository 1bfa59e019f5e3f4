"""A worker that is loading its model, or failed to, shows in `reelbot status` as not ready.

It does not beat its heartbeat key until it can render (the scheduler routes by live workers), so
without this a worker loading 40 GB for minutes, or one whose model is missing, looked dead or
absent. It writes `reelbot:not-ready:<id>` instead: kept alive while loading, and after a failed
load kept an hour with the one-line reason, for the operator who looks after it exited.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import time
from typing import TYPE_CHECKING, Any

from jobs.keys import not_ready_key
from worker.model_sources import ModelLoadError, load_configured

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from worker.settings import WorkerConfig

FAILED_KEPT_S = 3600


async def load_announced(redis: Redis, config: WorkerConfig) -> Any:
    """`load_configured` in a thread, announced as not ready while it runs and if it fails."""
    key = not_ready_key(f"{socket.gethostname()}-{os.getpid()}")
    state = {
        "state": "loading",
        "backend": config.backend,
        "queue": config.queue_name,
        "started": time.time(),
    }

    async def beat() -> None:
        while True:
            await redis.set(
                key, json.dumps(state | {"at": time.time()}), px=int(config.lease_s * 1000)
            )
            await asyncio.sleep(config.heartbeat_s)

    beating = asyncio.create_task(beat())
    try:
        backend = await asyncio.to_thread(load_configured, config)
    except ModelLoadError as exc:
        beating.cancel()
        failed = state | {"state": "failed", "reason": str(exc), "at": time.time()}
        await redis.set(key, json.dumps(failed), ex=FAILED_KEPT_S)
        raise
    except BaseException:
        beating.cancel()
        await redis.delete(key)
        raise
    beating.cancel()
    await redis.delete(key)
    return backend
