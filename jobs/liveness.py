"""Per-worker heartbeats, job leases, and the reaper that frees the jobs of workers that died.

arq marks a running job with an in-progress key that expires only after the largest job timeout,
so a job whose worker was killed would wait that long before anyone retries it. Each worker
beats every `interval_s` into a key that lives `lease_s`, and records which job it renders in
one hash. Any live worker frees the job of an owner whose heartbeat has expired, and arq picks
it up again at once.

The lease is long compared with the beat (15 s against 1 s by default), so a worker that
merely stalls for a few seconds (a VM pause, swap, a Redis failover) is not declared dead and
its clip is not rendered twice. If it does lose its lease, it notices at its next beat and stops
rendering: one owner per job at any time. A job whose owner is unknown (killed before it could
record itself) falls back to arq's own expiry.

A beat also announces the worker: its model family and the modes that family renders, in its
heartbeat and in the fleet roster (`jobs.fleet`), so front ends send each request to a family
that can make it; and the extras its own models make beside them (`core.fleet.EXTRAS`: sound,
a typed line's voice), so a request that needs one its operator turned off is refused up front.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Mapping

from redis.asyncio import Redis

from jobs.keys import (
    DEFAULT_QUEUE,
    FLEET_KEY,
    OWNERS_KEY,
    cancel_key,
    heartbeat_key,
    in_progress_key_prefix,
)
from jobs.replies import reply
from jobs.scripts import lua

log = logging.getLogger(__name__)


class Liveness:
    """Beats for one worker, holds the lease on the job it renders, reaps dead workers' jobs."""

    def __init__(
        self,
        redis: Redis,
        worker_id: str,
        *,
        interval_s: float,
        lease_s: float,
        queue: str = DEFAULT_QUEUE,
        family: str | None = None,
        modes: tuple[str, ...] = (),
        limits: Mapping[str, float | int] | None = None,
        extras: tuple[str, ...] | None = None,
    ) -> None:
        if lease_s < 2 * interval_s:
            raise ValueError(f"lease_s={lease_s} must be at least twice interval_s={interval_s}")
        self.redis = redis
        self.worker_id = worker_id
        self.interval_s = interval_s
        self.lease_s = lease_s
        self.current_job: str | None = None
        self.lost_job: str | None = None
        self.cancelled_job: str | None = None
        self.queue = queue  # the scheduler fills each arq queue for the workers reading it
        self.family = family  # announced with its modes; None: a worker that announces none
        self.modes = modes
        self.limits = dict(limits or {})  # core.capabilities.ANNOUNCED_LIMITS of what it serves
        self.extras = extras  # core.fleet.EXTRAS it makes; None: announced as before (all of them)
        self.started = time.time()
        self._release = redis.register_script(lua("release"))
        self._reap = redis.register_script(lua("reap"))

    async def beat(self) -> None:
        state: dict[str, object] = {
            "job": self.current_job,
            "at": time.time(),
            "started": self.started,
            "queue": self.queue,
        }
        async with self.redis.pipeline(transaction=False) as pipe:
            if self.family is not None:
                state |= {"family": self.family, "modes": list(self.modes)}
                seen = {"modes": list(self.modes), "at": state["at"]}
                if self.limits:
                    state["limits"] = seen["limits"] = self.limits
                if self.extras is not None:
                    state["extras"] = seen["extras"] = list(self.extras)
                pipe.hset(FLEET_KEY, self.family, json.dumps(seen))
            pipe.set(heartbeat_key(self.worker_id), json.dumps(state), px=int(self.lease_s * 1000))
            await pipe.execute()
        job = self.current_job
        if job is None:
            return
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hget(OWNERS_KEY, job)
            pipe.exists(cancel_key(job))
            owner, cancelled = await pipe.execute()
        if owner != self.worker_id.encode():
            log.warning(
                "lease lost to another worker; stopping this render", extra={"generation_id": job}
            )
            self.lost_job = job
        if cancelled and self.cancelled_job != job:
            log.info("its owner cancelled it; stopping this render", extra={"generation_id": job})
            self.cancelled_job = job

    def still_owns(self, generation_id: str) -> bool:
        """Cheap, thread-safe check for the render's step callback."""
        return self.lost_job != generation_id

    def cancel_requested(self, generation_id: str) -> bool:
        """Cheap, thread-safe check for the render's step callback."""
        return self.cancelled_job == generation_id

    async def claim(self, generation_id: str) -> None:
        """Record this worker as the job's owner (before the slow part starts)."""
        self.current_job = generation_id
        self.lost_job = None
        self.cancelled_job = None
        await reply(self.redis.hset(OWNERS_KEY, generation_id, self.worker_id))
        await self.beat()

    async def release(self, generation_id: str) -> None:
        self.current_job = None
        await self._release(keys=[OWNERS_KEY], args=[generation_id, self.worker_id])

    async def reap_dead(self) -> list[str]:
        """Free the jobs whose owner stopped beating; returns their ids."""
        freed: list[str] = []
        owners = await reply(self.redis.hgetall(OWNERS_KEY))
        for raw_job, raw_owner in owners.items():
            job, owner = raw_job.decode(), raw_owner.decode()
            if owner == self.worker_id:
                continue
            keys = (OWNERS_KEY, heartbeat_key(owner), in_progress_key_prefix + job)
            if await self._reap(keys=keys, args=[job, owner]):
                log.warning("worker %s died while rendering %s; freeing it for a retry", owner, job)
                freed.append(job)
        return freed

    async def run(self) -> None:
        """Beat and reap forever (a background task of the worker)."""
        while True:
            try:
                await self.beat()
                await self.reap_dead()
            except asyncio.CancelledError:
                raise
            except Exception:  # a Redis blip must not end the heartbeat loop
                log.exception("heartbeat failed")
            await asyncio.sleep(self.interval_s)

    async def stop(self) -> None:
        await reply(self.redis.delete(heartbeat_key(self.worker_id)))


async def live_workers(redis: Redis) -> dict[str, int]:
    """Live workers per arq queue, from their heartbeat keys (a scan of the keyspace)."""
    keys = [k async for k in redis.scan_iter(match=heartbeat_key("*"), count=1000)]
    counts: dict[str, int] = {}
    for raw in await reply(redis.mget(keys)) if keys else []:
        if raw is None:  # expired between the scan and the read
            continue
        try:
            queue = str(json.loads(raw).get("queue") or DEFAULT_QUEUE)
        except (ValueError, AttributeError):
            queue = DEFAULT_QUEUE
        counts[queue] = counts.get(queue, 0) + 1
    return counts
