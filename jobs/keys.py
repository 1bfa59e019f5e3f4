"""Every Redis key reelbot reads or writes, in one place: ours under `reelbot:`, and arq's.

The values never change from one release to the next: jobs waiting, queued or rendering when a
new release starts (and results not yet delivered) must be found where the old release put them
(`tests/jobs/test_keys.py` pins each one). Lua scripts get these names from here, as KEYS or as
prefixes in ARGV (`jobs.scripts`); no script spells a key.

`KEY_PREFIX` and the two arq queue names are defined in `core`: fair-share routing names the
queues, and core may import nothing of ours. They are listed here too, so this module is the
whole map. arq's own names come from `arq.constants` (arq is pinned: the admission step writes
arq's job keys as `ArqRedis.enqueue_job` would).
"""

from __future__ import annotations

from datetime import datetime
from typing import Final

from arq.constants import (
    abort_jobs_ss,
    in_progress_key_prefix,
    job_key_prefix,
    result_key_prefix,
    retry_key_prefix,
)

from core.fairshare import QUEUE_OF, RELAX_QUEUE, day_stamp
from core.spec import DEFAULT_QUEUE, KEY_PREFIX

__all__ = [
    "API_RATE_PREFIX",
    "CURSOR_KEY",
    "DAY_PREFIX",
    "DEFAULT_QUEUE",
    "DEPTH_PREFIX",
    "EVENTS_PREFIX",
    "FAMILIES_KEY",
    "FLEET_KEY",
    "FLIGHT_PREFIX",
    "GUILDS_PREFIX",
    "HEARTBEAT_PREFIX",
    "KEY_PREFIX",
    "MEMBERS_PREFIX",
    "MEMBER_NOTICES_STREAM",
    "NOT_READY_PREFIX",
    "OWNERS_KEY",
    "QUEUE_OF",
    "RELAX_QUEUE",
    "REMIXED_PREFIX",
    "RENDER_TIMES_KEY",
    "RESULT_STREAM",
    "REVIEW_REQUESTS_STREAM",
    "SCHED_JOB_PREFIX",
    "SCHED_PREFIX",
    "TOLD_PREFIX",
    "WAIT_PREFIX",
    "abort_jobs_ss",
    "api_rate_key",
    "cancel_key",
    "day_key",
    "depth_key",
    "events_key",
    "flight_key",
    "guilds_key",
    "heartbeat_key",
    "in_progress_key_prefix",
    "job_key_prefix",
    "members_key",
    "not_ready_key",
    "remixed_key",
    "result_key_prefix",
    "result_sent_key",
    "retry_key_prefix",
    "sched_job_key",
    "target_key",
    "told_key",
    "wait_key",
]

# --- workers and results (worker side) --------------------------------------------------------

RESULT_STREAM: Final = f"{KEY_PREFIX}results"  # stream of ResultRecords for delivery
OWNERS_KEY: Final = f"{KEY_PREFIX}owners"  # hash: generation id -> the worker rendering it
HEARTBEAT_PREFIX: Final = f"{KEY_PREFIX}worker:"
EVENTS_PREFIX: Final = f"{KEY_PREFIX}events:"


def heartbeat_key(worker_id: str) -> str:
    """A worker's liveness: exists while the worker beats (`reelbot:worker:*` lists workers)."""
    return f"{HEARTBEAT_PREFIX}{worker_id}"


NOT_READY_PREFIX: Final = f"{KEY_PREFIX}not-ready:"


# hash: model family -> {"modes": [...], "at": epoch s} of its latest worker beat, so a family
# whose workers restart for a few minutes is still offered (`jobs.fleet`)
FLEET_KEY: Final = f"{KEY_PREFIX}fleet"


def not_ready_key(worker_id: str) -> str:
    """A worker that runs but can't take jobs yet (loading its model) or at all (the load
    failed): `reelbot status` shows it as not ready; never counted as a live worker."""
    return f"{NOT_READY_PREFIX}{worker_id}"


def cancel_key(generation_id: str) -> str:
    """Exists while a clip's owner wants its render stopped; its worker checks it each beat."""
    return f"{KEY_PREFIX}cancel:{generation_id}"


def result_sent_key(generation_id: str) -> str:
    """Marks a clip's result as appended to RESULT_STREAM, so it is appended once."""
    return f"{KEY_PREFIX}result-sent:{generation_id}"


def events_key(generation_id: str) -> str:
    """The per-generation stream of progress events (queued, started, step, done, failed)."""
    return f"{EVENTS_PREFIX}{generation_id}"


def target_key(generation_id: str) -> str:
    """Where a finished clip is delivered (the bot's `DeliveryTarget`, as JSON)."""
    return f"{KEY_PREFIX}target:{generation_id}"


# --- telling members things the bot did not do itself ----------------------------------------

# Stream of {member id, text} that any process (the REST API: a webhook endpoint turned off)
# appends and the bot DMs, once each (`jobs.member_notices`, `bot.delivery.member_notices`).
MEMBER_NOTICES_STREAM: Final = f"{KEY_PREFIX}member-notices"

# Stream of requests the REST API held for a moderator, which the bot posts in the review
# channel with Approve / Reject, once each (`jobs.review_requests`, `bot.moderation.api_reviews`).
REVIEW_REQUESTS_STREAM: Final = f"{KEY_PREFIX}review-requests"


# --- the bot's guards against repeated reactions ----------------------------------------------

REMIXED_PREFIX: Final = f"{KEY_PREFIX}remixed:"
TOLD_PREFIX: Final = f"{KEY_PREFIX}told:"


def remixed_key(user_id: int, generation_id: str) -> str:
    """Exists while a member's 🔁 on a clip counts as made (`bot.cogs.remix`): re-adding the
    reaction within its lifetime queues nothing more."""
    return f"{REMIXED_PREFIX}{user_id}:{generation_id}"


def told_key(user_id: int, topic: str) -> str:
    """Exists while a member has been told about `topic` (`bot.notices`): not told again."""
    return f"{TOLD_PREFIX}{user_id}:{topic}"


# --- the REST API ---------------------------------------------------------------------------

API_RATE_PREFIX: Final = f"{KEY_PREFIX}api:rate:"


def api_rate_key(token_id: str, window: int) -> str:
    """A token's writes in one minute (`window`: minutes since the epoch), shared by every API
    process; it expires with the next minute."""
    return f"{API_RATE_PREFIX}{token_id}:{window}"


# --- the fair scheduler (jobs.admission) ------------------------------------------------------
# A submitted job waits in its member's list; the rings of guilds and members with waiting jobs
# are sorted sets, and beside each ring of members its depth sets (the members with 2, 3, ...
# jobs waiting or more); each job has a record hash, each member a set of jobs in flight.

SCHED_PREFIX: Final = f"{KEY_PREFIX}sched:"
CURSOR_KEY: Final = f"{SCHED_PREFIX}cursor"  # hash: where each ring stopped, the relax debt
RENDER_TIMES_KEY: Final = f"{SCHED_PREFIX}render-s"  # hash "backend:class" -> moving average s
GUILDS_PREFIX: Final = f"{SCHED_PREFIX}guilds:"
MEMBERS_PREFIX: Final = f"{SCHED_PREFIX}members:"
WAIT_PREFIX: Final = f"{SCHED_PREFIX}wait:"
SCHED_JOB_PREFIX: Final = f"{SCHED_PREFIX}job:"
FLIGHT_PREFIX: Final = f"{SCHED_PREFIX}flight:"
DEPTH_PREFIX: Final = f"{SCHED_PREFIX}depth:"
DAY_PREFIX: Final = f"{SCHED_PREFIX}day:"
# set: every model family a job was ever queued in (its lanes are "fast@family", "relax@family")
FAMILIES_KEY: Final = f"{SCHED_PREFIX}families"


def guilds_key(tier: str) -> str:
    """Ring (sorted set) of the guilds with jobs waiting in `tier`."""
    return f"{GUILDS_PREFIX}{tier}"


def members_key(tier: str, guild: str) -> str:
    """Ring (sorted set) of the members of `guild` with jobs waiting in `tier`."""
    return f"{MEMBERS_PREFIX}{tier}:{guild}"


def wait_key(tier: str, guild: str, member: str) -> str:
    """A member's waiting jobs in one tier and guild, oldest first (a list)."""
    return f"{WAIT_PREFIX}{tier}:{guild}:{member}"


def depth_key(tier: str, guild: str, jobs: int) -> str:
    """The members of `guild` with at least `jobs` (2 or more) waiting in `tier` (a sorted
    set, as the ring of members is for 1): what places in line are counted from."""
    return f"{DEPTH_PREFIX}{tier}:{guild}:{jobs}"


def sched_job_key(generation_id: str) -> str:
    """A submitted job's record (hash): tier, guild, member, day key, state, queue."""
    return f"{SCHED_JOB_PREFIX}{generation_id}"


def flight_key(member: str) -> str:
    """The member's jobs in flight (a set): waiting, queued in arq or rendering."""
    return f"{FLIGHT_PREFIX}{member}"


def day_key(owner_id: str, now: datetime) -> str:
    """The member's count of submissions on `now`'s UTC day."""
    return f"{DAY_PREFIX}{owner_id}:{day_stamp(now)}"
