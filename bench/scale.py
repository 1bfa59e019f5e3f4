"""How many GPU workers does one Redis serve? Throughput, pickup latency and Redis CPU per K.

    python bench/scale.py [--workers 1,8,64,256] [--render-s 0.5] [--jobs-per-worker 30]
                          [--processes 8] [--members 200] [--extra-depth 0] [--admit-poll-s 0.05]

For each K: a fresh private Redis (AOF on, fsync every second, as in production) and K arq
`Worker`s, spread over `--processes` processes as asyncio tasks (256 Python processes would not
fit a small machine), each with `worker_settings`' arq settings (max_jobs=1, poll_delay, JSON
jobs) and its own `Liveness` beating a heartbeat key, so the admission targets count them. The
task is a stub: claim the lease, sleep the render time, release it. One admission loop
(`Admission.run`) feeds arq from the fair scheduler; K x jobs-per-worker jobs from `--members`
members in several guilds are submitted through `Admission.enqueue` before the clock starts.

Measured from the first admission step to the last job finished: jobs/s against the ideal
K / render_s; pickup (arq's `enqueue_time`, written by the admission step, to the stub's start)
p50/p95; Redis CPU (`INFO cpu` user + sys over the wall time, % of one core) and the whole
host's CPU (% of one core, out of 100 x cores).

`--extra-depth 0` (production keeps 1 spare job per queue): with a spare, the spare job's wait
for a worker to free up (up to a render time) would count as pickup; with 0 every admitted job
has an idle worker, so pickup is what the queue itself costs. Not modelled: the per-worker
admission loops of production (kicked after each clip), progress events, the database.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from arq.connections import ArqRedis, RedisSettings, create_pool  # noqa: E402
from arq.worker import Worker, func  # noqa: E402
from redis.asyncio import Redis  # noqa: E402

from cli.local_redis import LocalRedis  # noqa: E402
from core.fairshare import Caps, FairShare  # noqa: E402
from core.spec import RENDER_TASK, RenderJob, RenderSpec  # noqa: E402
from jobs.admission import Admission  # noqa: E402
from jobs.keys import heartbeat_key  # noqa: E402
from jobs.liveness import Liveness  # noqa: E402
from worker.settings import WorkerConfig  # noqa: E402
from worker.tasks import worker_settings  # noqa: E402

DONE_KEY = "bench:scale:pickup"  # one entry per finished job: its pickup latency in seconds
SLOW_PICKUP_MS = 100.0


# --- the worker processes -------------------------------------------------------------------


async def render_stub(ctx: dict[str, Any], payload: dict[str, Any]) -> dict[str, Any]:
    """`render_clip` without the GPU: lease, sleep the render time, release, record pickup."""
    pickup = time.time() - ctx["enqueue_time"].timestamp()
    gid = payload["generation_id"]
    liveness: Liveness = ctx["liveness"]
    await liveness.claim(gid)
    try:
        await asyncio.sleep(ctx["render_s"])
    finally:
        await liveness.release(gid)
    await ctx["redis"].rpush(DONE_KEY, f"{pickup:.6f}")
    return {"status": "done", "generation_id": gid}


async def serve(url: str, count: int, render_s: float, index: int) -> None:
    config = WorkerConfig(redis_url=url)
    pool: ArqRedis = await create_pool(RedisSettings.from_dsn(url))
    settings = worker_settings(config)
    for name in ("redis_settings", "on_startup", "on_shutdown", "ctx"):
        del settings[name]
    settings["functions"] = [func(render_stub, name=RENDER_TASK, max_tries=config.max_tries + 1)]
    workers, beats = [], []
    for n in range(count):
        liveness = Liveness(
            pool,
            f"bench-{index}-{n}",
            interval_s=config.heartbeat_s,
            lease_s=config.lease_s,
            queue=config.queue_name,
        )
        beats.append(asyncio.create_task(liveness.run()))
        ctx = {"config": config, "liveness": liveness, "render_s": render_s}
        workers.append(Worker(**settings, ctx=ctx, redis_pool=pool, handle_signals=False))
    await asyncio.gather(*(w.async_run() for w in workers))


def worker_process(url: str, count: int, render_s: float, index: int) -> None:
    asyncio.run(serve(url, count, render_s, index))


# --- one round: K workers -------------------------------------------------------------------


@dataclass
class Row:
    workers: int
    jobs: int
    done: int
    wall_s: float
    pickups_ms: list[float]
    redis_cpu: float  # % of one core
    host_cpu: float  # % of one core

    def cells(self, render_s: float) -> str:
        q = statistics.quantiles(self.pickups_ms, n=100) if len(self.pickups_ms) > 1 else []
        p50 = statistics.median(self.pickups_ms) if self.pickups_ms else float("nan")
        p95 = q[94] if q else p50
        short = "" if self.done == self.jobs else f" (only {self.done} done)"
        return (
            f"{self.workers:>5}{self.jobs:>7}{self.wall_s:>8.1f}{self.done / self.wall_s:>9.1f}"
            f"{self.workers / render_s:>9.1f}{p50:>9.1f}{p95:>9.1f}"
            f"{self.redis_cpu:>10.1f}{self.host_cpu:>10.1f}{short}"
        )

    def p95(self) -> float:
        if len(self.pickups_ms) < 2:
            return self.pickups_ms[0] if self.pickups_ms else float("nan")
        return statistics.quantiles(self.pickups_ms, n=100)[94]


HEADER = (
    f"{'K':>5}{'jobs':>7}{'wall s':>8}{'jobs/s':>9}{'ideal':>9}{'p50 ms':>9}{'p95 ms':>9}"
    f"{'Redis %':>10}{'host %':>10}"
)


def host_busy() -> tuple[float, float]:
    """(busy, total) jiffies of the whole host, from /proc/stat."""
    fields = [float(v) for v in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields) - idle, sum(fields)


async def redis_cpu_s(redis: Redis) -> float:
    info = await redis.info("cpu")
    return float(info["used_cpu_sys"]) + float(info["used_cpu_user"])


def clip(n: int, members: int, guilds: int) -> RenderJob:
    spec = RenderSpec(
        prompt=f"a fox in the snow #{n}",
        aspect_ratio="16:9",
        width=848,
        height=480,
        num_frames=49,
        steps=30,
        seed=n,
        owner_id=f"m{n % members}",
        guild_id=n % guilds,
    )
    return RenderJob(generation_id=f"{n:032x}", spec=spec)


async def wait_for_heartbeats(redis: Redis, count: int, procs: list[Any]) -> None:
    deadline = time.monotonic() + 60 + count / 4
    while time.monotonic() < deadline:
        if any(p.exitcode is not None for p in procs):
            raise SystemExit("a worker process exited at start")
        keys = [k async for k in redis.scan_iter(match=heartbeat_key("*"), count=1000)]
        if len(keys) >= count:
            return
        await asyncio.sleep(0.1)
    raise SystemExit(f"only {len(keys)} of {count} workers beat within the start deadline")


async def one_round(k: int, args: argparse.Namespace, data_dir: Path) -> Row:
    jobs = k * args.jobs_per_worker
    with LocalRedis(data_dir / f"redis-{k}", appendonly=True) as server:
        spawn = mp.get_context("spawn")
        procs = []
        for index in range(min(k, args.processes)):
            count = k // args.processes + (1 if index < k % args.processes else 0)
            proc = spawn.Process(
                target=worker_process, args=(server.url, count, args.render_s, index), daemon=True
            )
            proc.start()
            procs.append(proc)
        redis = Redis.from_url(server.url)
        try:
            await wait_for_heartbeats(redis, k, procs)
            admission = Admission(
                redis, share=FairShare(extra_depth=args.extra_depth), poll_s=args.admit_poll_s
            )
            caps = Caps(in_flight=jobs, per_day=jobs)
            for start in range(0, jobs, 256):
                await asyncio.gather(
                    *(
                        admission.enqueue(clip(n, args.members, args.guilds), caps=caps)
                        for n in range(start, min(jobs, start + 256))
                    )
                )
            cpu0, (busy0, total0) = await redis_cpu_s(redis), host_busy()
            started = time.perf_counter()
            loop = asyncio.create_task(admission.run())
            deadline = started + 3 * args.jobs_per_worker * args.render_s + 60
            done = 0
            while done < jobs and time.perf_counter() < deadline:
                await asyncio.sleep(0.05)
                done = await redis.llen(DONE_KEY)
            wall = time.perf_counter() - started
            cpu1, (busy1, total1) = await redis_cpu_s(redis), host_busy()
            loop.cancel()
            pickups = [float(v) * 1000 for v in await redis.lrange(DONE_KEY, 0, -1)]
        finally:
            for proc in procs:
                proc.terminate()
            for proc in procs:
                proc.join()
            await redis.aclose()
    cores = os.cpu_count() or 1
    return Row(
        workers=k,
        jobs=jobs,
        done=len(pickups),
        wall_s=wall,
        pickups_ms=pickups,
        redis_cpu=100 * (cpu1 - cpu0) / wall,
        host_cpu=100 * cores * (busy1 - busy0) / max(total1 - total0, 1),
    )


async def run(args: argparse.Namespace, data_dir: Path) -> None:
    cores = os.cpu_count() or 1
    print(
        f"render {args.render_s} s, {args.jobs_per_worker} jobs per worker, {args.processes} "
        f"worker processes at most, {args.members} members in {args.guilds} guilds, "
        f"extra_depth {args.extra_depth}, {cores} cores (host % is out of {100 * cores})"
    )
    print(HEADER)
    rows = []
    for k in args.workers:
        row = await one_round(k, args, data_dir)
        rows.append(row)
        print(row.cells(args.render_s), flush=True)
    slow = next((r.workers for r in rows if r.p95() > SLOW_PICKUP_MS), None)
    if slow is None:
        print(
            f"p95 pickup stayed under {SLOW_PICKUP_MS:.0f} ms up to K={rows[-1].workers}: "
            f"one Redis serves at least {rows[-1].workers} workers here"
        )
    else:
        print(f"p95 pickup first exceeds {SLOW_PICKUP_MS:.0f} ms at K={slow}")
    print(
        f"a lower bound: the {cores} cores run Redis and every simulated worker's Python too, "
        "so the workers' own CPU competes with Redis (real GPU workers sit on other machines)"
    )


def worker_counts(text: str) -> list[int]:
    try:
        counts = [int(v) for v in text.split(",")]
    except ValueError:
        msg = f"--workers must be numbers like 1,8,64, got {text!r}"
        raise argparse.ArgumentTypeError(msg) from None
    if any(c < 1 for c in counts):
        raise argparse.ArgumentTypeError(f"--workers must be at least 1 each, got {text!r}")
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=worker_counts, default=[1, 8, 64, 256])
    parser.add_argument("--render-s", type=float, default=0.5)
    parser.add_argument("--jobs-per-worker", type=int, default=30)
    parser.add_argument("--processes", type=int, default=8)
    parser.add_argument("--members", type=int, default=200)
    parser.add_argument("--guilds", type=int, default=5)
    parser.add_argument("--extra-depth", type=int, default=0)
    parser.add_argument("--admit-poll-s", type=float, default=0.05)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="reelbot-scale-") as tmp:
        asyncio.run(run(args, Path(tmp)))


if __name__ == "__main__":
    main()
