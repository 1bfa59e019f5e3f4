"""Redis key names: the values jobs already queued are found under, and the scripts keep to them."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from importlib.resources import files
from pathlib import Path

from redis.asyncio import Redis

import jobs
from core.fairshare import Caps
from core.spec import ProgressEvent, RenderJob, RenderSpec, ResultRecord
from jobs import keys
from jobs.admission import Admission
from jobs.results import publish_result_once
from jobs.scripts import SCHEDULER, lua

NOW = datetime(2025, 5, 1, 12, tzinfo=UTC)
GID = "0f" * 16


def test_key_values_are_those_an_older_release_left_in_redis() -> None:
    """Changing one strands what a running system holds across an upgrade."""
    assert keys.KEY_PREFIX == "reelbot:"
    assert keys.DEFAULT_QUEUE == "reelbot:queue:fast"
    assert keys.RELAX_QUEUE == "reelbot:queue:relax"
    assert keys.RESULT_STREAM == "reelbot:results"
    assert keys.OWNERS_KEY == "reelbot:owners"
    assert keys.heartbeat_key("w1") == "reelbot:worker:w1"
    assert keys.cancel_key(GID) == f"reelbot:cancel:{GID}"
    assert keys.result_sent_key(GID) == f"reelbot:result-sent:{GID}"
    assert keys.events_key(GID) == f"reelbot:events:{GID}"
    assert keys.target_key(GID) == f"reelbot:target:{GID}"
    assert keys.remixed_key(7, GID) == f"reelbot:remixed:7:{GID}"
    assert keys.told_key(7, "refused:QuotaExceeded") == "reelbot:told:7:refused:QuotaExceeded"
    assert keys.CURSOR_KEY == "reelbot:sched:cursor"
    assert keys.FAMILIES_KEY == "reelbot:sched:families"
    assert keys.FLEET_KEY == "reelbot:fleet"
    assert keys.RENDER_TIMES_KEY == "reelbot:sched:render-s"
    assert keys.guilds_key("fast") == "reelbot:sched:guilds:fast"
    assert keys.members_key("relax", "-") == "reelbot:sched:members:relax:-"
    assert keys.wait_key("fast", "7", "discord:1") == "reelbot:sched:wait:fast:7:discord:1"
    assert keys.depth_key("relax", "7", 2) == "reelbot:sched:depth:relax:7:2"
    assert keys.sched_job_key(GID) == f"reelbot:sched:job:{GID}"
    assert keys.flight_key("discord:1") == "reelbot:sched:flight:discord:1"
    assert keys.day_key("discord:1", NOW) == "reelbot:sched:day:discord:1:20250501"
    assert keys.api_rate_key("abc123def456", 7) == "reelbot:api:rate:abc123def456:7"
    assert (keys.job_key_prefix, keys.result_key_prefix, keys.in_progress_key_prefix) == (
        "arq:job:",
        "arq:result:",
        "arq:in-progress:",
    )


def test_no_script_and_no_module_but_keys_spells_a_key() -> None:
    spelled = re.compile(r"""["'](reelbot|arq):[a-z-]+:""")
    lua_dir = files("jobs") / "lua"
    offenders = [p.name for p in lua_dir.iterdir() if spelled.search(p.read_text())]
    offenders += [
        p.name
        for p in Path(jobs.__file__).parent.glob("*.py")
        if p.name != "keys.py" and spelled.search(p.read_text())
    ]
    assert offenders == []


def test_every_script_file_is_loaded_and_none_is_missing() -> None:
    names = {p.name.removesuffix(".lua") for p in (files("jobs") / "lua").iterdir()}
    used = set(SCHEDULER) | {"layout", "record_render", "release", "reap", "publish_result"}
    used |= {"trim_results"}
    assert names == used
    for name in SCHEDULER:
        assert lua(name).startswith(lua("layout"))


async def test_the_scripts_write_exactly_the_keys_jobs_keys_names(redis: Redis) -> None:
    """The Lua builds keys from the prefixes it is given; they must come out as `jobs.keys`
    spells them, or Python (the reconciler, the ETA, `reelbot status`) reads the wrong ones."""
    admission = Admission(redis, clock=NOW.timestamp)
    spec = RenderSpec(
        prompt="a fox",
        aspect_ratio="16:9",
        width=256,
        height=144,
        num_frames=8,
        steps=2,
        seed=1,
        owner_id="discord:1",
        guild_id=7,
    )
    job = RenderJob(generation_id=GID, spec=spec)
    await redis.set(keys.heartbeat_key("w1"), b'{"queue": "reelbot:queue:fast@tiny"}')
    await admission.enqueue(job, caps=Caps(), announce=ProgressEvent(kind="queued"))
    assert await _all(redis) == {
        keys.heartbeat_key("w1"),
        keys.FAMILIES_KEY,
        keys.guilds_key("fast@tiny"),
        keys.members_key("fast@tiny", "7"),
        keys.wait_key("fast@tiny", "7", "discord:1"),
        keys.sched_job_key(GID),
        keys.flight_key("discord:1"),
        keys.day_key("discord:1", NOW),
        keys.events_key(GID),
    }
    assert await admission.admit() == [GID]
    await admission.record_render(spec, 12.0)
    await redis.set(keys.in_progress_key_prefix + GID, b"1")  # a worker took it
    assert await admission.cancel(GID) is False
    assert await _all(redis) == {
        keys.heartbeat_key("w1"),
        keys.FAMILIES_KEY,
        keys.CURSOR_KEY,
        keys.DEFAULT_QUEUE + "@tiny",
        keys.job_key_prefix + GID,
        keys.in_progress_key_prefix + GID,
        keys.sched_job_key(GID),
        keys.flight_key("discord:1"),
        keys.day_key("discord:1", NOW),
        keys.events_key(GID),
        keys.RENDER_TIMES_KEY,
        keys.cancel_key(GID),
    }
    # its result published: the clip leaves the scheduler (record, in-flight set, cancel key)
    await publish_result_once(redis, ResultRecord(generation_id=GID, status="done"))
    assert await _all(redis) == {
        keys.heartbeat_key("w1"),
        keys.FAMILIES_KEY,
        keys.CURSOR_KEY,
        keys.DEFAULT_QUEUE + "@tiny",
        keys.job_key_prefix + GID,
        keys.in_progress_key_prefix + GID,
        keys.day_key("discord:1", NOW),
        keys.events_key(GID),
        keys.RENDER_TIMES_KEY,
        keys.RESULT_STREAM,
        keys.result_sent_key(GID),
    }


async def _all(redis: Redis) -> set[str]:
    return {k.decode() async for k in redis.scan_iter(count=1000)}
