"""Shared fixtures: a private real Redis server per session, a flushed client per test, a data
folder; the end-to-end harness's fixtures (tests/harness) are registered here for every test."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from cli.local_redis import LocalRedis
from tests.harness.provenance import clips
from tests.harness.stack import stack
from tests.harness.workers import forkserver, module_worker, workers

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing may download weights at test time

# fixtures, found by pytest under these names
__all__ = ["clips", "forkserver", "module_worker", "stack", "workers"]


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
