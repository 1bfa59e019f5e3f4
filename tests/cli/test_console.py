"""`reelbot create` in the terminal: what the operator reads once the clip is queued, against a
real Redis and SQLite (a faked worker heartbeat; no worker renders)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from cli.console import create_clip, queued_line
from core.capabilities import capabilities_for
from core.fairshare import queue_of
from core.flags import parse_request
from gallery.db import make_engine, migrate
from gallery.media import LocalMediaStore
from gallery.store import GalleryStore
from intake.submit import connect_queue
from jobs.admission import Admission
from jobs.keys import heartbeat_key

DEFAULT_QUEUE = queue_of("fast", "tiny")  # where a tiny worker reads fast jobs

pytestmark = pytest.mark.timeout(60)
GID = "0123456789abcdef0123456789abcdef"


def test_the_queued_line_says_when_the_clip_will_be_ready() -> None:
    spec = parse_request("a fox -seed 1", capabilities=capabilities_for("tiny"))
    assert queued_line(GID, spec, 3, 130.0).startswith(
        f"queued {GID} (#3 in queue, ready in about 2 min): "
    )
    assert queued_line(GID, spec, 1, None).startswith(f"queued {GID} (#1 in queue): ")
    assert queued_line(GID, spec, 1, None).endswith("seed 1, hq")
    fast = parse_request("a fox -seed 1 -fast", capabilities=capabilities_for("tiny"))
    assert queued_line(GID, fast, 1, None).endswith("seed 1, fast")


async def test_create_shows_the_eta_members_see(redis_server, redis, tmp_path: Path) -> None:
    state = {"job": None, "at": 0, "started": 0, "queue": DEFAULT_QUEUE}
    await redis.set(heartbeat_key("w-0"), json.dumps(state), px=60_000)
    spec = parse_request("a kite over a beach", capabilities=capabilities_for("tiny"))
    await Admission(redis).record_render(spec, 12.0)  # a clip of this size was delivered before
    engine = make_engine(f"sqlite:///{tmp_path / 'reelbot.db'}")
    migrate(engine)
    out = io.StringIO()
    pool = await connect_queue(redis_server.url)
    try:
        with pytest.raises(TimeoutError):  # nothing renders it
            await create_clip(
                "a kite over a beach -seed 4",
                pool=pool,
                store=GalleryStore(engine),
                media=LocalMediaStore(tmp_path / "media"),
                backend="tiny",
                public_url="http://gallery.test",
                out=out,
                owner="cli:test",
                idle_timeout_s=0.1,
            )
    finally:
        await pool.aclose()
    assert "(#1 in queue, ready in about 12 s): 512x288" in out.getvalue().splitlines()[0]
