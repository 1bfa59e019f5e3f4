"""How long a worker takes from start to taking jobs, and where that time goes.

    python bench/worker_startup.py [--runs 3]

Prints, for the tiny backend on this machine:
- a worker spawned as `python -m worker` (as production starts one) and one forked from the test
  suite's preloaded parent (`tests.harness.forkserver`): seconds from start to its first
  heartbeat in Redis, the moment it takes jobs;
- inside one process: importing torch, diffusers and transformers; building the tiny pipeline
  in code once they are imported; and, for comparison, saving it with `save_pretrained` and
  loading it back with `from_pretrained` (a cache folder of built pipelines would save only
  the build, which is the smallest part).
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

from redis.asyncio import Redis  # noqa: E402

from cli.local_redis import LocalRedis  # noqa: E402
from jobs.keys import heartbeat_key  # noqa: E402
from tests.harness.workers import (  # noqa: E402
    FORKSERVER,
    Forkserver,
    WorkerProcesses,
    reelbot_env,
)

PHASES = """
import time
started = time.perf_counter()
import torch, diffusers, transformers
from worker.backends.tiny import _build_pipeline
import_s = time.perf_counter() - started
started = time.perf_counter()
_build_pipeline()  # the first build also imports the pipeline's own classes
first_s = time.perf_counter() - started
started = time.perf_counter()
pipe = _build_pipeline()
build_s = time.perf_counter() - started
import tempfile
from diffusers import LTXPipeline
folder = tempfile.mkdtemp()
started = time.perf_counter()
pipe.save_pretrained(folder)
save_s = time.perf_counter() - started
started = time.perf_counter()
LTXPipeline.from_pretrained(folder)
load_s = time.perf_counter() - started
print(import_s, first_s, build_s, save_s, load_s)
"""


async def until_beating(redis: Redis, timeout: float = 120) -> None:
    async with asyncio.timeout(timeout):
        while not [key async for key in redis.scan_iter(match=heartbeat_key("*"))]:
            await asyncio.sleep(0.02)


async def time_starts(redis_url: str, folder: Path, runs: int) -> list[float]:
    """Seconds from `start()` to the first heartbeat, one worker at a time."""
    redis = Redis.from_url(redis_url)
    seconds = []
    try:
        for run in range(runs):
            await redis.flushdb()
            workers = WorkerProcesses(
                reelbot_env(redis_url, folder / f"data-{run}"), folder / f"logs-{run}"
            )
            started = time.perf_counter()
            workers.start()
            try:
                await until_beating(redis)
                seconds.append(time.perf_counter() - started)
            finally:
                workers.stop_all()
    finally:
        await redis.aclose()
    return seconds


def show(name: str, seconds: list[float]) -> None:
    each = " ".join(f"{s:.2f}" for s in seconds)
    print(f"{name:<34} median {statistics.median(seconds):5.2f} s   ({each})")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.pop(FORKSERVER, None)
    with tempfile.TemporaryDirectory() as tmp, LocalRedis(Path(tmp) / "redis") as redis:
        folder = Path(tmp)
        show("spawned (python -m worker)", await time_starts(redis.url, folder / "s", args.runs))
        server = Forkserver()
        os.environ[FORKSERVER] = str(server.folder)
        try:
            first = await time_starts(redis.url, folder / "f0", 1)
            print(f"{'forkserver preload + first fork':<34} {first[0]:12.2f} s")
            show("forked (preloaded parent)", await time_starts(redis.url, folder / "f", args.runs))
        finally:
            os.environ.pop(FORKSERVER)
            server.stop()
    out = subprocess.run(
        [sys.executable, "-c", PHASES], capture_output=True, text=True, cwd=ROOT, check=True
    ).stdout.split()
    import_s, first_s, build_s, save_s, load_s = (float(x) for x in out)
    print(f"{'import torch, diffusers, transformers':<40} {import_s:6.2f} s")
    print(f"{'first tiny build (its classes imported)':<40} {first_s:6.2f} s")
    print(f"{'tiny build, classes already imported':<40} {build_s:6.3f} s")
    print(f"{'save_pretrained to a folder':<40} {save_s:6.3f} s")
    print(f"{'from_pretrained from that folder':<40} {load_s:6.3f} s")


if __name__ == "__main__":
    asyncio.run(main())
