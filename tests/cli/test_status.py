"""`reelbot status` against a real Redis: faked heartbeats, jobs waiting in the fair scheduler."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from redis.asyncio import Redis

from cli.status import duration, read_status, render_status
from core.fairshare import Caps, queue_of
from core.spec import ProgressEvent, RenderJob, ResultRecord
from jobs.admission import Admission
from jobs.events import publish_event
from jobs.keys import OWNERS_KEY, RESULT_STREAM, heartbeat_key
from jobs.results import acknowledge, publish_result_once
from tests.harness.paths import ROOT
from tests.harness.renderjobs import job

pytestmark = pytest.mark.timeout(60)
ROOMY = Caps(in_flight=100, per_day=1000)
NOW = 1_750_000_000.0
DEFAULT_QUEUE = queue_of("fast", "tiny")  # the queue of a tiny worker: `job`'s clips are tiny's
RELAX_QUEUE = queue_of("relax", "tiny")


async def beat(
    redis: Redis,
    worker_id: str,
    *,
    job: str | None,
    at: float,
    started: float,
    family: str = "tiny",
    modes: tuple[str, ...] = ("t2v", "i2v"),
) -> None:
    queue = queue_of("fast", family)
    state = {"job": job, "at": at, "started": started, "queue": queue, "family": family}
    await redis.set(heartbeat_key(worker_id), json.dumps({**state, "modes": modes}), px=60_000)
    await redis.hset("reelbot:fleet", family, json.dumps({"modes": modes, "at": at}))


async def queue_at(redis: Redis, admission: Admission, j: RenderJob, at: float, **kw) -> None:
    await admission.enqueue(j, caps=ROOMY, **kw)
    await publish_event(redis, j.generation_id, ProgressEvent(kind="queued", at=at))


@pytest.fixture
async def busy(redis: Redis) -> dict[str, str]:
    """Two live workers (one rendering), one dead owner, three jobs waiting, one in arq."""
    rendering = "f" * 32
    await beat(redis, "gpu-0", job=rendering, at=NOW - 0.5, started=NOW - 3600)
    await beat(redis, "gpu-1", job=None, at=NOW - 2, started=NOW - 60)
    await redis.hset(OWNERS_KEY, mapping={rendering: "gpu-0", "e" * 32: "gpu-gone"})
    await redis.zadd(DEFAULT_QUEUE, {rendering: NOW})
    admission = Admission(redis)
    a1, a2, b1 = job("alice", 1), job("alice", 2), job("bob", 1, guild=2)
    await queue_at(redis, admission, a1, NOW - 30)
    await queue_at(redis, admission, a2, NOW - 40)  # not at its list's head: not "oldest"
    await queue_at(redis, admission, b1, NOW - 90, tier="relax")
    return {"a1": a1.generation_id, "b1": b1.generation_id, "rendering": rendering}


async def test_status_reports_workers_queues_and_the_oldest_request(redis, busy) -> None:
    status = json.loads(json.dumps(await read_status(redis, now=NOW)))

    workers = {w["id"]: w for w in status["workers"]}
    assert set(workers) == {"gpu-0", "gpu-1", "gpu-gone"}
    assert workers["gpu-0"] == {
        "id": "gpu-0",
        "alive": True,
        "job": busy["rendering"],
        "queue": DEFAULT_QUEUE,
        "family": "tiny",
        "heartbeat_age_s": 0.5,
        "uptime_s": 3600,
    }
    assert workers["gpu-1"]["alive"] and workers["gpu-1"]["job"] is None
    assert workers["gpu-1"]["heartbeat_age_s"] == 2 and workers["gpu-1"]["uptime_s"] == 60
    assert workers["gpu-gone"]["alive"] is False and workers["gpu-gone"]["job"] == "e" * 32

    assert status["queues"]["fast@tiny"] == {"key": DEFAULT_QUEUE, "depth": 1, "workers": 2}
    assert status["queues"]["relax@tiny"] == {"key": RELAX_QUEUE, "depth": 0, "workers": 0}
    assert status["tiers"]["fast@tiny"] == {
        "waiting_jobs": 2,
        "members_waiting": 1,
        "guilds_waiting": 1,
        "routed_to": DEFAULT_QUEUE,
    }
    # no worker reads the relax queue, so relax jobs share the fast one
    assert status["tiers"]["relax@tiny"]["waiting_jobs"] == 1
    assert status["tiers"]["relax@tiny"]["members_waiting"] == 1
    assert status["tiers"]["relax@tiny"]["routed_to"] == DEFAULT_QUEUE
    assert status["oldest_waiting"] == {
        "generation_id": busy["b1"],
        "age_s": 90,
        "tier": "relax@tiny",
    }


async def test_an_empty_install_has_no_workers_and_nothing_waiting(redis) -> None:
    status = await read_status(redis, now=NOW)
    assert status["workers"] == [] and status["oldest_waiting"] is None
    assert status["tiers"] == {} and status["fleet"] == {}
    assert "none" in render_status(status)


async def test_a_job_whose_events_expired_is_still_named_as_waiting(redis) -> None:
    j = job("carol", 1)
    await Admission(redis).enqueue(j, caps=ROOMY)
    oldest = (await read_status(redis, now=NOW))["oldest_waiting"]
    assert oldest == {"generation_id": j.generation_id, "age_s": None, "tier": "fast@tiny"}
    assert "unknown time" in render_status(await read_status(redis, now=NOW))


async def test_status_lists_each_family_live_now_with_its_workers_and_modes(redis) -> None:
    await beat(redis, "ltx-0", job=None, at=NOW - 1, started=NOW - 60, family="ltx")
    await beat(redis, "ltx-1", job=None, at=NOW - 1, started=NOW - 60, family="ltx")
    await beat(
        redis, "vace-0", job=None, at=NOW - 1, started=NOW, family="wan_vace", modes=("edit",)
    )
    await redis.delete(heartbeat_key("vace-0"))  # restarting: seen a moment ago, not live
    status = await read_status(redis, now=NOW)
    assert status["fleet"] == {
        "ltx": {"workers": 2, "modes": ["t2v", "i2v"], "live": True},
        "wan_vace": {"workers": 0, "modes": ["edit"], "live": False},
    }
    assert status["queues"]["fast@ltx"]["workers"] == 2
    table = render_status(status)
    assert "ltx       2                            t2v, i2v" in table
    assert "wan_vace  0 (seen in the last 10 min)  edit" in table


async def test_the_table_names_every_worker_and_the_oldest_request(redis, busy) -> None:
    table = render_status(await read_status(redis, now=NOW))
    for worker in ("gpu-0", "gpu-1", "gpu-gone"):
        assert worker in table
    assert busy["rendering"] in table and busy["b1"] in table
    assert "1m30s" in table and "1h00m" in table and "died" in table


async def test_status_shows_the_result_streams_length_and_what_delivery_has_left(redis) -> None:
    for n in range(4):
        await publish_result_once(redis, ResultRecord(generation_id=f"{n:032x}", status="done"))
    status = await read_status(redis, now=NOW)
    assert status["results"] == {
        "key": RESULT_STREAM,
        "length": 4,
        "pending": 0,
        "unread": 4,
        "readers": 0,
    }
    assert "Results stream reelbot:results: 4 entries (no bot has read it yet" in render_status(
        status
    )

    await redis.xgroup_create(RESULT_STREAM, "reelbot-bot", id="0")
    replies = await redis.xreadgroup("reelbot-bot", "bot-1", {RESULT_STREAM: ">"}, count=3)
    first, *_ = (entry_id for _, entries in replies for entry_id, _ in entries)
    await acknowledge(redis, "reelbot-bot", first)  # posted: trimmed; two more being posted
    status = await read_status(redis, now=NOW)
    assert (status["results"]["length"], status["results"]["pending"]) == (3, 2)
    assert status["results"]["unread"] == 1
    assert "3 entries (1 not yet read by the bot, 2 being posted)" in render_status(status)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(None, "-"), (0.44, "0.4s"), (12, "12s"), (185, "3m05s"), (7380, "2h03m"), (100800, "1d04h")],
)
def test_durations_read_short(seconds: float | None, text: str) -> None:
    assert duration(seconds) == text


def reelbot(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli.main", *args],
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, **env},
        cwd=ROOT,
    )


async def test_the_command_prints_json_or_a_table(
    redis, redis_server, busy, tmp_path: Path
) -> None:
    env = {"REELBOT_REDIS_URL": redis_server.url, "REELBOT_DATA_DIR": str(tmp_path)}
    await beat(redis, "gpu-0", job=busy["rendering"], at=time.time(), started=time.time() - 5)

    result = reelbot("status", "--json", env=env)
    assert result.returncode == 0, result.stderr
    status = json.loads(result.stdout)
    assert {w["id"] for w in status["workers"]} == {"gpu-0", "gpu-1", "gpu-gone"}
    assert status["oldest_waiting"]["generation_id"] == busy["b1"]

    result = reelbot("status", env=env)
    assert result.returncode == 0, result.stderr
    assert "gpu-0" in result.stdout and "gpu-1" in result.stdout and busy["b1"] in result.stdout


def test_unreachable_redis_exits_3_naming_the_url_without_its_password(tmp_path: Path) -> None:
    env = {"REELBOT_REDIS_URL": "redis://:hunter2@127.0.0.1:1/0", "REELBOT_DATA_DIR": str(tmp_path)}
    result = reelbot("status", "--json", env=env)
    assert result.returncode == 3
    assert "127.0.0.1:1" in result.stderr and "hunter2" not in result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""
