"""Run N clips through the whole path and print each stage's share of the wall time.

    python bench/slice.py [--clips 5] [--prompt "..."] [--workers 1]

Real parts throughout: a private Redis server, `python -m worker` processes with the configured
backend (tiny by default), SQLite and a media folder in a temporary directory. Stages:
parse (prompt → spec), enqueue (gallery row + arq job), pickup (enqueue → worker starts it),
load (pipeline build, once per worker, reported apart), denoise, decode (VAE + to uint8),
encode (MP4), store (gallery row → done), and "other" (events, result, the client's reading).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from arq.jobs import Job  # noqa: E402

from cli.local_redis import LocalRedis  # noqa: E402
from core.capabilities import capabilities_for  # noqa: E402
from core.flags import parse_request  # noqa: E402
from core.spec import DEFAULT_QUEUE, deserialize_job  # noqa: E402
from gallery.db import make_engine, migrate  # noqa: E402
from gallery.store import GalleryStore  # noqa: E402
from intake.submit import Submitter, admitting_submitter, connect_queue  # noqa: E402
from jobs.events import follow_events  # noqa: E402
from jobs.keys import heartbeat_key  # noqa: E402

STAGES = ("parse", "enqueue", "pickup", "denoise", "decode", "encode", "store")


async def run(args: argparse.Namespace, data_dir: Path) -> None:
    backend = os.environ.get("REELBOT_BACKEND", "tiny")
    with LocalRedis(data_dir / "redis", appendonly=False) as redis_server:
        env = {
            **os.environ,
            "REELBOT_REDIS_URL": redis_server.url,
            "REELBOT_DATA_DIR": str(data_dir),
            "HF_HUB_OFFLINE": "1",
        }
        logs = (data_dir / "worker.log").open("wb")
        procs = [
            subprocess.Popen(
                [sys.executable, "-m", "worker"], env=env, stdout=logs, stderr=logs, cwd=ROOT
            )
            for _ in range(args.workers)
        ]
        engine = make_engine(f"sqlite:///{data_dir / 'reelbot.db'}")
        migrate(engine)
        store = GalleryStore(engine)
        pool = await connect_queue(redis_server.url)
        try:
            while not [k async for k in pool.scan_iter(match=heartbeat_key("*"))]:
                await asyncio.sleep(0.05)
            await report(args, pool, store, backend)
        finally:
            await pool.aclose()
            for proc in procs:
                proc.terminate()
                proc.wait()


async def report(args: argparse.Namespace, pool, store: GalleryStore, backend: str) -> None:
    capabilities = capabilities_for(backend)
    async with admitting_submitter(pool, store) as submitter:
        await measure(args, pool, submitter, capabilities, backend)


async def measure(args, pool, submitter: Submitter, capabilities, backend: str) -> None:
    rows: list[dict[str, float]] = []
    load_s = 0.0
    for i in range(args.clips + 1):  # the first clip warms up caches and is not counted
        started = time.perf_counter()
        spec = parse_request(f"{args.prompt} -seed {i}", capabilities=capabilities)
        parsed = time.perf_counter()
        submission = await submitter.submit(spec, unlimited=True)
        enqueued = time.perf_counter()
        async for event in follow_events(pool, submission.generation_id, idle_timeout_s=300):
            if event.kind == "failed":
                raise SystemExit(f"clip failed: {event.message}")
        wall = time.perf_counter() - started
        # The task's own result carries every stage, "store" included (the row can't hold the
        # time it took to write itself).
        job = Job(
            submission.generation_id,
            pool,
            _queue_name=DEFAULT_QUEUE,
            _deserializer=deserialize_job,
        )
        result = await job.result(timeout=10)
        timings = dict(result["timings"])
        load_s = max(load_s, timings.pop("load", 0.0))
        if i == 0:
            continue
        timings.update(parse=parsed - started, enqueue=enqueued - parsed, wall=wall)
        rows.append(timings)

    print(
        f"backend {backend}: {spec.width}x{spec.height}, {spec.num_frames} frames at {spec.fps} "
        f"fps, {spec.steps} steps; {len(rows)} clips; "
        f"pipeline load {load_s:.2f} s (once per worker)"
    )
    wall = statistics.mean(r["wall"] for r in rows)
    print(f"{'stage':<10}{'mean s':>10}{'share':>9}")
    accounted = 0.0
    for stage in STAGES:
        mean = statistics.mean(r.get(stage, 0.0) for r in rows)
        accounted += mean
        print(f"{stage:<10}{mean:>10.4f}{mean / wall:>9.1%}")
    print(f"{'other':<10}{wall - accounted:>10.4f}{(wall - accounted) / wall:>9.1%}")
    print(f"{'wall':<10}{wall:>10.4f}{1:>9.1%}")
    denoise = statistics.mean(r["denoise"] for r in rows)
    print(f"everything but denoise: {(wall - denoise) / wall:.1%} of wall")
    model_work = sum(statistics.mean(r[s] for r in rows) for s in ("denoise", "decode", "encode"))
    print(f"queue and bookkeeping (all but denoise, decode, encode): {1 - model_work / wall:.1%}")
    pickup = sorted(r["pickup"] * 1000 for r in rows)
    print(
        f"pickup by an idle worker: median {statistics.median(pickup):.1f} ms, "
        f"max {pickup[-1]:.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=5)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--prompt", default="a fox running through snow -motion 3 -ar 9:16")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="reelbot-bench-") as tmp:
        asyncio.run(run(args, Path(tmp)))


if __name__ == "__main__":
    main()
