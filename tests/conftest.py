"""Shared fixtures: a private real Redis server per session, worker processes, a data folder."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from cli.local_redis import LocalRedis

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing may download weights at test time
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRedis]:
    with LocalRedis(tmp_path_factory.mktemp("redis")) as server:
        yield server


@pytest.fixture
async def redis(redis_server: LocalRedis) -> AsyncIterator[object]:
    """A client on a flushed database, so tests never see each other's jobs."""
    from redis.asyncio import Redis

    client = Redis.from_url(redis_server.url)
    await client.flushdb()
    yield client
    await client.aclose()


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


def reelbot_env(redis_url: str, data_dir: Path, **extra: str) -> dict[str, str]:
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
    procs = WorkerProcesses(reelbot_env(redis_server.url, data_dir), data_dir.parent / "logs")
    yield procs
    procs.stop_all()


async def submit_admitted(redis_url: str, store: object, spec: object, timeout: float = 120) -> str:
    """Submit as the terminal does and wait until the fair scheduler has handed the job to arq
    (a worker must be starting: jobs are admitted only while a worker is alive to take them)."""
    import asyncio

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
