"""Per-worker heartbeats, and the reaper that frees the jobs of workers that died.

arq marks a running job with an in-progress key that expires only after the largest job timeout,
so a job whose worker was killed would wait that long before anyone retries it. Each worker
records which job it runs and keeps a short-lived heartbeat; any live worker deletes the
in-progress key of a job whose owner's heartbeat has expired, and arq picks the job up again at
once. A job whose owner is unknown (killed before it could record itself) falls back to arq's TTL.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time

from arq.constants import in_progress_key_prefix
from redis.asyncio import Redis

from worker.spec import KEY_PREFIX

log = logging.getLogger(__name__)

HEARTBEAT_MISSES = 3  # a worker is dead after this many heartbeats without a beat


def heartbeat_key(worker_id: str) -> str:
    return f"{KEY_PREFIX}worker:{worker_id}"


def owner_key(generation_id: str) -> str:
    return f"{KEY_PREFIX}owner:{generation_id}"


class Liveness:
    """Beats for one worker, records what it renders, and reaps jobs of dead workers."""

    def __init__(self, redis: Redis, worker_id: str, *, interval_s: float, job_ttl_s: int) -> None:
        self.redis = redis
        self.worker_id = worker_id
        self.interval_s = interval_s
        self.job_ttl_s = job_ttl_s
        self.current_job: str | None = None
        self.started = time.time()

    async def beat(self) -> None:
        state = {"job": self.current_job, "at": time.time(), "started": self.started}
        ttl_ms = int(self.interval_s * HEARTBEAT_MISSES * 1000)
        await self.redis.set(heartbeat_key(self.worker_id), json.dumps(state), px=ttl_ms)

    async def claim(self, generation_id: str) -> None:
        """Record this worker as the job's owner (before the slow part starts)."""
        self.current_job = generation_id
        await self.redis.set(owner_key(generation_id), self.worker_id, ex=self.job_ttl_s)
        await self.beat()

    async def release(self, generation_id: str) -> None:
        self.current_job = None
        await self.redis.delete(owner_key(generation_id))
        await self.beat()

    async def reap_dead(self) -> list[str]:
        """Free the in-progress marks of jobs whose owner stopped beating; returns their ids."""
        freed = []
        async for key in self.redis.scan_iter(match=f"{in_progress_key_prefix}*", count=500):
            key_s = key.decode() if isinstance(key, bytes) else key
            job_id = key_s.removeprefix(in_progress_key_prefix)
            owner = await self.redis.get(owner_key(job_id))
            if owner is None:
                continue
            owner_s = owner.decode() if isinstance(owner, bytes) else owner
            if owner_s == self.worker_id or await self.redis.exists(heartbeat_key(owner_s)):
                continue
            # Delete only if the owner is still the dead worker (no one re-claimed it meanwhile).
            async with self.redis.pipeline(transaction=True) as pipe:
                await pipe.watch(owner_key(job_id))
                current = await pipe.get(owner_key(job_id))
                if current != owner:
                    continue
                pipe.multi()
                pipe.delete(key_s, owner_key(job_id))
                await pipe.execute()
            log.warning(
                "worker %s died while rendering %s; freeing it for a retry", owner_s, job_id
            )
            freed.append(job_id)
        return freed

    async def run(self) -> None:
        """Beat and reap forever (a background task of the worker)."""
        while True:
            try:
                await self.beat()
                await self.reap_dead()
            except Exception:  # a Redis blip must not kill the heartbeat loop
                log.exception("heartbeat failed")
            await asyncio.sleep(self.interval_s)

    async def stop(self) -> None:
        await self.redis.delete(heartbeat_key(self.worker_id))
