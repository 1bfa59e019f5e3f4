"""An API process killed (SIGKILL) in the middle of a delivery loses no event and sends none
twice, except the one it was sending: that one comes again under the same webhook-id, which is
what receivers dedupe by. Real processes, a real receiver, SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from gallery.api_clips import ApiClipStore
from gallery.api_tokens import TokenStore
from gallery.db import make_engine, migrate
from gallery.store import GalleryStore
from gallery.webhook_outbox import Outbox
from tests.api.conftest import MEMBER
from tests.api.webhooks_harness import receiver
from tests.gallery.factories import generation
from tests.harness.waiting import eventually

pytestmark = [pytest.mark.timeout(90)]
ROOT = Path(__file__).resolve().parents[2]


class ApiProcess:
    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc

    def kill(self) -> None:
        os.kill(self.proc.pid, signal.SIGKILL)


@pytest.fixture
async def api_processes(redis_server, redis, tmp_path: Path):
    started: list[asyncio.subprocess.Process] = []

    async def start(database_url: str) -> ApiProcess:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.api.webhook_process",
            redis_server.url,
            database_url,
            str(tmp_path / "data"),
            cwd=ROOT,
            stdout=asyncio.subprocess.PIPE,
        )
        started.append(proc)
        line = await asyncio.wait_for(proc.stdout.readline(), 30)
        assert line.startswith(b"ready"), line
        return ApiProcess(proc)

    yield start
    for proc in started:
        if proc.returncode is None:
            proc.kill()
        await proc.wait()


@pytest.fixture(params=["sqlite", "postgresql"])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    if request.param == "postgresql":
        yield request.getfixturevalue("pg_database_url")
    else:
        yield f"sqlite:///{tmp_path / 'data' / 'reelbot.db'}"


async def test_a_process_killed_mid_delivery_loses_nothing_and_repeats_only_that_one(
    api_processes, database_url: str
) -> None:
    engine = make_engine(database_url)
    migrate(engine)
    store = GalleryStore(engine)
    issued = TokenStore(engine).create(MEMBER, 42, "site", ("clips:write",), created_by=MEMBER)
    try:
        async with receiver(secret=issued.token.webhook_secret, answers=["hang"]) as hook:
            first = await api_processes(database_url)
            new = generation(owner_id=MEMBER)
            store.add_generation(new)
            ApiClipStore(engine).record(new.id, issued.token.id, webhook_url=hook.url)
            await eventually(lambda: hook.got, lambda got: len(got) == 1)  # in flight, hanging
            first.kill()
            await first.proc.wait()

            store.mark_rendering(new.id, worker="w", attempt=1)  # the clip goes on meanwhile
            store.mark_done(new.id, media_path="x/y.mp4", size_bytes=1, timings={})
            await api_processes(database_url)  # another process: the lease ends, it resends
            await eventually(lambda: hook.types(new.id), lambda t: len(t) == 4, timeout=30)

            assert hook.types(new.id) == [
                "clip.queued",
                "clip.queued",  # the one in flight when the process died
                "clip.started",
                "clip.succeeded",
            ]
            ids = [d.id for d in hook.got]
            assert ids[0] == ids[1] and len(set(ids)) == 3  # the repeat: the same webhook-id
            assert hook.got[0].body == hook.got[1].body
            assert all(d.verified for d in hook.got)
            rows = Outbox(engine).deliveries(new.id)
            assert [(r.event, r.attempts) for r in rows] == [
                ("clip.queued", 2),
                ("clip.started", 1),
                ("clip.succeeded", 1),
            ]
            assert all(r.delivered_at is not None for r in rows)
    finally:
        engine.dispose()
