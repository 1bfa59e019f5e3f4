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
from worker.model_sources import ModelLoadError, load_models

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from worker.settings import WorkerConfig

FAILED_KEPT_S = 3600


async def load_announced(redis: Redis, config: WorkerConfig) -> Any:
    """`load_models` in a thread, announced as not ready while it runs and if it fails; once
    it succeeds, an earlier failure of this host's workers with these settings is cleared."""
    host = socket.gethostname()
    key = not_ready_key(f"{host}-{os.getpid()}")
    state = {
        "state": "loading",
        "host": host,
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
        loaded = await asyncio.to_thread(load_models, config)
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
    await _clear_superseded(redis, state)
    return loaded


async def _clear_superseded(redis: Redis, state: dict[str, Any]) -> None:
    """A failure recorded by an earlier process on this host (another pid) for the same family
    and queue: this one loaded, so `reelbot status` no longer shows that as not ready."""
    same = ("host", "backend", "queue")
    async for key in redis.scan_iter(match=not_ready_key(f"{state['host']}-*"), count=1000):
        raw = await redis.get(key)
        try:
            found = json.loads(raw) if raw is not None else None
        except ValueError:
            continue
        if (
            isinstance(found, dict)
            and found.get("state") == "failed"
            and all(found.get(k) == state[k] for k in same)
        ):
            await redis.delete(key)
