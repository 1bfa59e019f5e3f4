"""Real `python -m worker` processes on the test Redis, and submitting work for them."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from cli.local_redis import LocalRedis
from tests.harness.paths import ROOT


def reelbot_env(redis_url: str, data_dir: Path, **extra: str) -> dict[str, str]:
    """A worker's environment: the test Redis, its data folder, a fast beat and a short lease."""
    env = {
        **os.environ,
        "REELBOT_REDIS_URL": redis_url,
        "REELBOT_DATA_DIR": str(data_dir),
        "REELBOT_HEARTBEAT_S": "0.3",
        "REELBOT_LEASE_S": "2.5",
        "PYTHONUNBUFFERED": "1",
        "HF_HUB_OFFLINE": "1",
    }
    env.update(extra)
    return env


class WorkerProcesses:
    """Real `python -m worker` processes, killed at the end of the test."""

    def __init__(self, env: dict[str, str], log_dir: Path) -> None:
        self.env = env
        self.log_dir = log_dir
        self.processes: list[subprocess.Popen[bytes]] = []

    def start(self) -> subprocess.Popen[bytes]:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = (self.log_dir / f"worker-{len(self.processes)}.log").open("wb")
        proc = subprocess.Popen(
            [sys.executable, "-m", "worker"],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )
        self.processes.append(proc)
        return proc

    def logs(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in sorted(self.log_dir.glob("*.log")))

    def stop_all(self) -> None:
        for proc in self.processes:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


@pytest.fixture
def workers(redis_server: LocalRedis, data_dir: Path) -> Iterator[WorkerProcesses]:
    """Worker processes for this test's data folder; none runs until the test starts one."""
    procs = WorkerProcesses(reelbot_env(redis_server.url, data_dir), data_dir.parent / "logs")
    yield procs
    procs.stop_all()


async def submit_admitted(redis_url: str, store: object, spec: object, timeout: float = 120) -> str:
    """Submit as the terminal does and wait until the fair scheduler has handed the job to arq
    (a worker must be starting: jobs are admitted only while a worker is alive to take them)."""
    from arq.constants import job_key_prefix, result_key_prefix

    from bot.intake.submit import admitting_submitter, connect_queue

    pool = await connect_queue(redis_url)
    try:
        async with admitting_submitter(pool, store) as submitter:  # type: ignore[arg-type]
            gid = (await submitter.submit(spec, unlimited=True)).generation_id  # type: ignore[arg-type]
            async with asyncio.timeout(timeout):
                while not await pool.exists(job_key_prefix + gid, result_key_prefix + gid):
                    await asyncio.sleep(0.05)
        return gid
    finally:
        await pool.aclose()
