"""The Lua scripts in `jobs/lua/`, read from the package once and registered with a client.

Every script runs by EVALSHA: redis-py's `AsyncScript`, and `PipelinedRedis.run_script` for the
calls that share round trips, load a script that Redis lost (a restart, SCRIPT FLUSH) and run
the call again. A script spells no key: concrete keys come as KEYS, and the prefixes of keys it
builds (a member's wait list, arq's job key) come from `jobs.keys` as ARGV.

The fair scheduler's scripts share one key layout and a few ring helpers (`layout.lua`). Redis's
Lua has no `require`, so that file is put in front of each scheduler script as its text is read:
one copy of the layout, not five. So the line numbers in a Redis error about one of them count
from the top of `layout.lua`: subtract its length to find the line in the script's own file.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from importlib.resources import files
from typing import Final

from redis.asyncio import Redis
from redis.commands.core import AsyncScript

from jobs.keys import (
    DEPTH_PREFIX,
    FAMILIES_KEY,
    FLIGHT_PREFIX,
    GUILDS_PREFIX,
    MEMBERS_PREFIX,
    SCHED_JOB_PREFIX,
    WAIT_PREFIX,
    in_progress_key_prefix,
    job_key_prefix,
    result_key_prefix,
)

__all__ = ["LAYOUT", "SCHEDULER", "SchedulerScripts", "lua"]

# The first ARGV of every scheduler script, in the order layout.lua reads them.
LAYOUT: Final = (
    GUILDS_PREFIX,
    MEMBERS_PREFIX,
    WAIT_PREFIX,
    SCHED_JOB_PREFIX,
    FLIGHT_PREFIX,
    job_key_prefix,
    result_key_prefix,
    in_progress_key_prefix,
    DEPTH_PREFIX,
    FAMILIES_KEY,
)
SCHEDULER: Final = ("submit", "admit", "cancel", "places", "snapshot")


@functools.cache
def _file(name: str) -> str:
    return (files("jobs") / "lua" / f"{name}.lua").read_text(encoding="utf-8")


@functools.cache
def lua(name: str) -> str:
    """The text of `jobs/lua/{name}.lua` as Redis runs it (after `layout.lua` for a scheduler
    script)."""
    return _file("layout") + _file(name) if name in SCHEDULER else _file(name)


@dataclass(frozen=True)
class SchedulerScripts:
    """The fair scheduler's scripts, registered with one client (each call passes `LAYOUT`
    first in its ARGV), and the render-time average's."""

    submit: AsyncScript
    admit: AsyncScript
    cancel: AsyncScript
    places: AsyncScript
    snapshot: AsyncScript
    record_render: AsyncScript

    @classmethod
    def register(cls, redis: Redis) -> SchedulerScripts:
        return cls(
            submit=redis.register_script(lua("submit")),
            admit=redis.register_script(lua("admit")),
            cancel=redis.register_script(lua("cancel")),
            places=redis.register_script(lua("places")),
            snapshot=redis.register_script(lua("snapshot")),
            record_render=redis.register_script(lua("record_render")),
        )
