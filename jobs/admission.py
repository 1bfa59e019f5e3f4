"""The Redis side of fair sharing: member queues, quotas, and the step that feeds arq.

A submitted job waits in its member's list (`reelbot:sched:wait:{tier}:{guild}:{member}`),
with the rings of guilds and members that have waiting jobs kept as sorted sets. The admission
step moves jobs into the arq queues while each is shallower than its live workers plus
`FairShare.extra_depth`, in the order `bot.scheduler` defines (the Lua below is a port of
`scheduler.plan`, and the tests check that both agree).

The step is one Lua script: it pops the job, writes arq's job key and adds it to arq's queue
exactly as `ArqRedis.enqueue_job(_job_id=gid)` would (skipping both when arq already has the
job or its result), and moves the cursors. Redis runs a script to the end or not at all
whatever happens to the bot, so there is no moment at which a job is popped but not enqueued,
any number of bot processes may run the step at once, and no lock is needed. The price is
knowing arq's key layout; arq is pinned (0.28.0) and the tests run a real arq worker on it.

Keys used inside the scripts are built there, not declared (no Redis Cluster, as for arq).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from redis.asyncio import Redis

from core.fairshare import (
    QUEUE_OF,
    TIERS,
    Caps,
    Cursor,
    FairShare,
    Tier,
    day_stamp,
    estimate,
    fair_order,
    guild_key,
    in_flight_refusal,
    per_day_refusal,
    ready_in,
    route,
    size_class,
    targets,
)
from core.spec import (
    DEFAULT_QUEUE,
    KEY_PREFIX,
    RENDER_TASK,
    ProgressEvent,
    RenderJob,
    RenderSpec,
    cancel_key,
    events_key,
    heartbeat_key,
    serialize_job,
)
from jobs.events import EVENTS_MAXLEN, EVENTS_TTL_S, stamped
from jobs.pipelined import PipelinedRedis

log = logging.getLogger(__name__)

PREFIX = f"{KEY_PREFIX}sched:"
CURSOR_KEY = f"{PREFIX}cursor"
RENDER_TIMES_KEY = f"{PREFIX}render-s"  # hash "backend:class" -> moving average seconds
CANCEL_TTL = timedelta(days=1)
DAY_TTL = timedelta(days=2)


async def cancel_requested(redis: Redis, generation_id: str) -> bool:
    return bool(await redis.exists(cancel_key(generation_id)))


def day_key(owner_id: str, now: datetime) -> str:
    return f"{PREFIX}day:{owner_id}:{day_stamp(now)}"


def arq_head(job: RenderJob) -> str:
    """arq's serialized job for `render_clip(job)` up to its enqueue time, which Lua appends."""
    data: dict[str, Any] = {
        "t": None,
        "f": RENDER_TASK,
        "a": [job.model_dump(mode="json")],
        "k": {},
        "et": 0,
    }
    full = serialize_job(data).decode()
    assert full.endswith('"et":0}')
    return full[: -len("0}")]


_LIB = """
local P = ARGV[1]
local C = P .. 'cursor'
local function ring(tier) return P .. 'guilds:' .. tier end
local function mring(tier, g) return P .. 'members:' .. tier .. ':' .. g end
local function wlist(tier, g, m) return P .. 'wait:' .. tier .. ':' .. g .. ':' .. m end
local function jkey(gid) return P .. 'job:' .. gid end
local function fkey(m) return P .. 'flight:' .. m end
local function unlist(tier, g, m)  -- drop emptied member and guild from their rings
  if redis.call('LLEN', wlist(tier, g, m)) == 0 then
    redis.call('ZREM', mring(tier, g), m)
    if redis.call('ZCARD', mring(tier, g)) == 0 then redis.call('ZREM', ring(tier), g) end
  end
end
"""

# ARGV: prefix, gid, tier, guild, member, head, cap_in_flight, cap_day, day_key, day_ttl_s,
#       count it today (1/0) [, events stream, event JSON, stream max length, stream TTL s]
# -> {status, used}: 1 queued, 0 already known, -1 in-flight cap, -2 daily cap
# With the event arguments, a queued job's "queued" progress event is appended too.
_SUBMIT = (
    _LIB
    + """
local gid, tier, g, m = ARGV[2], ARGV[3], ARGV[4], ARGV[5]
if redis.call('EXISTS', jkey(gid)) == 1 then return {0, 0} end
local F = fkey(m)
for _, other in ipairs(redis.call('SMEMBERS', F)) do
  local state = redis.call('HGET', jkey(other), 'state')
  if state ~= 'waiting' and redis.call('EXISTS', 'arq:job:' .. other) == 0 then
    redis.call('SREM', F, other)  -- finished: arq drops its job key at the end
    redis.call('DEL', jkey(other))
  end
end
local used = redis.call('SCARD', F)
if used >= tonumber(ARGV[7]) then return {-1, used} end
local dk = ARGV[9]
local today = tonumber(redis.call('GET', dk) or '0')
if today >= tonumber(ARGV[8]) then return {-2, today} end
if ARGV[11] == '1' then
  redis.call('INCR', dk)
  redis.call('EXPIRE', dk, ARGV[10])
end
redis.call('HSET', jkey(gid), 'tier', tier, 'guild', g, 'member', m, 'day', dk,
  'head', ARGV[6], 'state', 'waiting')
redis.call('RPUSH', wlist(tier, g, m), gid)
redis.call('ZADD', mring(tier, g), 0, m)
redis.call('ZADD', ring(tier), 0, g)
redis.call('SADD', F, gid)
if ARGV[12] then
  redis.call('XADD', ARGV[12], 'MAXLEN', '~', ARGV[14], '*', 'e', ARGV[13])
  redis.call('EXPIRE', ARGV[12], ARGV[15])
end
return {1, used + 1}
"""
)

# ARGV: prefix, max admissions, relax_every, expires_ms, fast queue, fast target,
#       relax queue, relax target -> admitted generation ids, in order
_ADMIT = (
    _LIB
    + """
local max_n, every, expires = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local route = {fast = ARGV[5], relax = ARGV[7]}
local target = {[ARGV[5]] = tonumber(ARGV[6])}
if ARGV[7] ~= ARGV[5] then target[ARGV[7]] = tonumber(ARGV[8]) end
local t = redis.call('TIME')
local now = string.format('%d', tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000))
local debt = tonumber(redis.call('HGET', C, 'relax_debt') or '0')

local function next_after(key, last)
  local r = {}
  if last then r = redis.call('ZRANGEBYLEX', key, '(' .. last, '+', 'LIMIT', 0, 1) end
  if #r == 0 then r = redis.call('ZRANGEBYLEX', key, '-', '+', 'LIMIT', 0, 1) end
  return r[1]
end

local function admit(tier, queue)
  local g = next_after(ring(tier), redis.call('HGET', C, 'g:' .. tier) or nil)
  local m = next_after(mring(tier, g), redis.call('HGET', C, 'm:' .. tier .. ':' .. g) or nil)
  if not m then redis.call('ZREM', ring(tier), g) return nil end
  local gid = redis.call('LPOP', wlist(tier, g, m))
  unlist(tier, g, m)
  redis.call('HSET', C, 'g:' .. tier, g, 'm:' .. tier .. ':' .. g, m)
  if not gid then return nil end
  local head = redis.call('HGET', jkey(gid), 'head')
  if head and redis.call('EXISTS', 'arq:job:' .. gid, 'arq:result:' .. gid) == 0 then
    redis.call('SET', 'arq:job:' .. gid, head .. now .. '}', 'PX', expires)
    redis.call('ZADD', queue, now, gid)
  end
  redis.call('HSET', jkey(gid), 'state', 'admitted', 'queue', queue)
  redis.call('HDEL', jkey(gid), 'head')
  redis.call('PEXPIRE', jkey(gid), expires)
  return gid
end

local admitted = {}
local queues = {ARGV[5]}
if ARGV[7] ~= ARGV[5] then queues[2] = ARGV[7] end
local budget = max_n
while budget > 0 do
  local progressed = false
  for _, q in ipairs(queues) do
    local tiers = {}
    for _, tier in ipairs({'fast', 'relax'}) do
      if route[tier] == q then tiers[#tiers + 1] = tier end
    end
    local waiting = {fast = redis.call('EXISTS', ring('fast')) == 1,
                     relax = redis.call('EXISTS', ring('relax')) == 1}
    local ready = {}
    for _, tier in ipairs(tiers) do if waiting[tier] then ready[#ready + 1] = tier end end
    if budget > 0 and #ready > 0 and redis.call('ZCARD', q) < target[q] then
      local tier = ready[1]
      if #ready > 1 and debt >= every - 1 then tier = 'relax' end
      if #tiers > 1 then
        if tier == 'fast' and waiting.relax then debt = debt + 1 else debt = 0 end
      end
      local gid = admit(tier, q)
      budget = budget - 1
      progressed = true
      if gid then admitted[#admitted + 1] = gid end
    end
  end
  if not progressed then break end
end
redis.call('HSET', C, 'relax_debt', debt)
return admitted
"""
)

# ARGV: prefix, gid, cancel key, cancel ttl s -> 1 taken out before any worker had it,
# 0 a worker may be rendering it: the cancel key is set for its step callback
_CANCEL = (
    _LIB
    + """
local gid = ARGV[2]
local j = jkey(gid)
local tier, g, m, dk, state, q = unpack(redis.call('HMGET', j, 'tier', 'guild', 'member', 'day',
  'state', 'queue'))
local out = false
if state == 'waiting' then
  out = redis.call('LREM', wlist(tier, g, m), 0, gid) > 0
  unlist(tier, g, m)
elseif q and redis.call('EXISTS', 'arq:in-progress:' .. gid) == 0
    and redis.call('ZREM', q, gid) == 1 then
  redis.call('DEL', 'arq:job:' .. gid)
  out = true
end
if out then
  redis.call('SREM', fkey(m), gid)
  redis.call('DEL', j)
  if tonumber(redis.call('GET', dk) or '0') > 0 then redis.call('DECR', dk) end
  return 1
end
redis.call('SET', ARGV[3], '1', 'EX', ARGV[4])
return 0
"""
)

# Places in line without replaying the whole order. Within a tier, guilds take turns in ring
# order after the guild cursor, and members of a guild in ring order after its member cursor,
# so the job at index k of member m's list is admitted at m's (k+1)-th turn, which is g's turn
#   T = k + 1 + sum over members x of g before m in the ring of min(len x, k + 1)
#             + sum over members x of g after m of min(len x, k),
# and that is admission number T + sum over guilds h before g of min(jobs of h, T)
#                                + sum over guilds h after g of min(jobs of h, T - 1)
# of its tier. In a shared queue the other tier's admissions between come from the debt rule.
# Every term is capped by the jobs ahead, and each ring entry holds at least one job (every
# script keeps it so), so the cost is bounded by the place, not by all waiting jobs.
_PLACE_LIB = (
    _LIB
    + """
local every = tonumber(ARGV[2])
local route = {fast = ARGV[3], relax = ARGV[4]}

local function less(a, b)  -- byte order, as the rings sort (Lua's < follows the locale)
  for i = 1, math.min(#a, #b) do
    local x, y = string.byte(a, i), string.byte(b, i)
    if x ~= y then return x < y end
  end
  return #a < #b
end

local function before(key, c, x)  -- entries of ring `key` served before x, starting after c
  if not c then return redis.call('ZLEXCOUNT', key, '-', '(' .. x) end
  if less(c, x) then return redis.call('ZLEXCOUNT', key, '(' .. c, '(' .. x) end
  return redis.call('ZLEXCOUNT', key, '(' .. c, '+') + redis.call('ZLEXCOUNT', key, '-', '(' .. x)
end

local function scan(key, lo, hi, fn)  -- fn(x) along [lo, hi] in chunks until it says stop
  while true do
    local chunk = redis.call('ZRANGEBYLEX', key, lo, hi, 'LIMIT', 0, 100)
    for _, x in ipairs(chunk) do if fn(x) then return true end end
    if #chunk < 100 then return false end
    lo = '(' .. chunk[#chunk]
  end
end

local function turns(key, c, fn)  -- fn(x) for the ring in serving order after c
  if c and scan(key, '(' .. c, '+', fn) then return end
  scan(key, '-', c and ('[' .. c) or '+', fn)
end

local function guild_jobs(tier, h, cap)  -- min(jobs waiting in guild h, cap)
  if cap <= 0 then return 0 end
  local key = mring(tier, h)
  if redis.call('ZCARD', key) >= cap then return cap end
  local n = 0
  scan(key, '-', '+', function(x)
    n = n + redis.call('LLEN', wlist(tier, h, x))
    return n >= cap
  end)
  return math.min(n, cap)
end

local function tier_jobs(tier, cap)  -- min(jobs waiting in the tier, cap)
  local n = 0
  if cap > 0 then
    scan(ring(tier), '-', '+', function(h)
      n = n + guild_jobs(tier, h, cap - n)
      return n >= cap
    end)
  end
  return n
end

local function rank(tier, g, m, k)  -- admission number in its tier of m's job at index k
  local mc = redis.call('HGET', C, 'm:' .. tier .. ':' .. g) or nil
  local t = k + 1
  if k == 0 then t = 1 + before(mring(tier, g), mc, m)
  else  -- m has jobs, so m is in its ring
    local past = false
    turns(mring(tier, g), mc, function(x)
      if x == m then past = true
      else t = t + math.min(redis.call('LLEN', wlist(tier, g, x)), past and k or k + 1) end
    end)
  end
  local gc = redis.call('HGET', C, 'g:' .. tier) or nil
  if t == 1 then return 1 + before(ring(tier), gc, g) end
  local n, past = t, false  -- t > 1: g has jobs, so g is in its ring
  turns(ring(tier), gc, function(h)
    if h == g then past = true else n = n + guild_jobs(tier, h, past and t - 1 or t) end
  end)
  return n
end

local function place(tier, g, m, k)  -- 1-based place in its arq queue
  local r = rank(tier, g, m, k)
  local q = route[tier]
  local n = r + redis.call('ZCARD', q)
  if route.fast ~= route.relax then return n end
  local K = every - 1  -- fast admissions per relax one while both wait
  local s = math.max(0, K - tonumber(redis.call('HGET', C, 'relax_debt') or '0'))
  if tier == 'relax' then return n + tier_jobs('fast', s + (r - 1) * K) end
  local relax = 0
  if K == 0 then relax = 2 ^ 53 elseif r > s then relax = math.floor((r - 1 - s) / K) + 1 end
  return n + tier_jobs('relax', relax)
end

local function member_place(m)  -- the best place of any waiting job of m's (its lists' heads)
  local best = false
  local function try(tier, g)
    local p = place(tier, g, m, 0)
    if not best or p < best then best = p end
  end
  local F = fkey(m)
  if redis.call('SCARD', F) > redis.call('ZCARD', ring('fast')) + redis.call('ZCARD', ring('relax'))
  then  -- fewer guilds than jobs in flight (an uncapped member): look for m in each guild
    for _, tier in ipairs({'fast', 'relax'}) do
      scan(ring(tier), '-', '+', function(g)
        if redis.call('ZSCORE', mring(tier, g), m) then try(tier, g) end
      end)
    end
    return best
  end
  local seen = {}
  for _, gid in ipairs(redis.call('SMEMBERS', F)) do
    local tier, g, state = unpack(redis.call('HMGET', jkey(gid), 'tier', 'guild', 'state'))
    if state == 'waiting' and not seen[tier .. ':' .. g] then
      seen[tier .. ':' .. g] = true
      try(tier, g)
    end
  end
  return best
end
"""
)

# ARGV: prefix, relax_every, fast route, relax route, what, ...: 'preview', tier, guild,
#       member (a job that would join the member's list) | 'job', gid | 'member', member
# -> the 1-based place in line, or nil
_PLACE = (
    _PLACE_LIB
    + """
local what = ARGV[5]
if what == 'preview' then
  local tier, g, m = ARGV[6], ARGV[7], ARGV[8]
  return place(tier, g, m, redis.call('LLEN', wlist(tier, g, m)))
elseif what == 'member' then
  return member_place(ARGV[6])
end
local gid = ARGV[6]
local tier, g, m, state, q = unpack(redis.call('HMGET', jkey(gid), 'tier', 'guild', 'member',
  'state', 'queue'))
if state == 'waiting' then
  local k = redis.call('LPOS', wlist(tier, g, m), gid)
  return k and place(tier, g, m, k)
elseif q then
  local r = redis.call('ZRANK', q, gid)
  return r and r + 1
end
return false
"""
)

# ARGV: prefix, relax_every, fast route, relax route, member, day key, in-flight cap, day cap
# [, guild] -> {jobs waiting, queued or rendering; submissions today; the member's best place in
# line when over the in-flight cap and under the daily one, else 0 [, where a new job of theirs
# in that guild would stand in the fast tier, and in the relax tier]}
_USAGE = (
    _PLACE_LIB
    + """
local m = ARGV[5]
local today = tonumber(redis.call('GET', ARGV[6]) or '0')
local live = 0
for _, gid in ipairs(redis.call('SMEMBERS', fkey(m))) do
  if redis.call('HGET', jkey(gid), 'state') == 'waiting'
      or redis.call('EXISTS', 'arq:job:' .. gid) == 1 then
    live = live + 1
  end
end
local at = 0
if live >= tonumber(ARGV[7]) and today < tonumber(ARGV[8]) then at = member_place(m) or 0 end
local g = ARGV[9]
if g then
  return {live, today, at, place('fast', g, m, redis.call('LLEN', wlist('fast', g, m))),
    place('relax', g, m, redis.call('LLEN', wlist('relax', g, m)))}
end
return {live, today, at}
"""
)

# ARGV: prefix, fast queue, relax queue -> {cursor hash, {tier, guild, member, {gids}}..., depths}
_SNAPSHOT = (
    _LIB
    + """
local entries = {}
for _, tier in ipairs({'fast', 'relax'}) do
  for _, g in ipairs(redis.call('ZRANGE', ring(tier), 0, -1)) do
    for _, m in ipairs(redis.call('ZRANGE', mring(tier, g), 0, -1)) do
      entries[#entries + 1] = {tier, g, m, redis.call('LRANGE', wlist(tier, g, m), 0, -1)}
    end
  end
end
return {redis.call('HGETALL', C), entries, redis.call('ZCARD', ARGV[2]),
  redis.call('ZCARD', ARGV[3])}
"""
)

# ARGV: field, sample seconds, alpha
_RECORD = """
local old = redis.call('HGET', KEYS[1], ARGV[1])
local v = tonumber(ARGV[2])
if old then v = tonumber(old) + tonumber(ARGV[3]) * (v - tonumber(old)) end
redis.call('HSET', KEYS[1], ARGV[1], tostring(v))
return tostring(v)
"""


@dataclass(frozen=True)
class Snapshot:
    queues: dict[str, dict[str, dict[str, list[str]]]]
    cursor: Cursor
    depth: dict[str, int]


@dataclass(frozen=True)
class Preview:
    """A member's usage, and where a new job of theirs would stand in each tier (1 = next)."""

    live: int
    today: int
    place: dict[Tier, int]


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class Admission:
    """Member queues in Redis and the admission step; one per bot process, any number of them.

    `clock` returns seconds since the epoch (tests move it to cross midnight).
    """

    def __init__(
        self,
        redis: Redis,
        *,
        share: FairShare | None = None,
        poll_s: float = 0.5,
        batch: int = 32,
        expires: timedelta = timedelta(days=7),
        workers_cache_s: float = 1.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.redis = redis
        self.share = share or FairShare()
        self.poll_s = poll_s
        self.batch = batch
        self.expires = expires
        self.workers_cache_s = workers_cache_s
        self.clock = clock
        self._kick = asyncio.Event()
        self._workers: dict[str, int] = {}
        self._workers_at = -workers_cache_s
        self._workers_refresh: asyncio.Future[dict[str, int]] | None = None
        self._submit = redis.register_script(_SUBMIT)
        self._admit = redis.register_script(_ADMIT)
        self._cancel = redis.register_script(_CANCEL)
        self._snapshot = redis.register_script(_SNAPSHOT)
        self._place = redis.register_script(_PLACE)
        self._usage = redis.register_script(_USAGE)
        self._record = redis.register_script(_RECORD)
        # What every /create sends (usage, submit) shares round trips with the other requests.
        self.pipelined = PipelinedRedis(redis)

    # --- submitting ---------------------------------------------------------------------

    async def enqueue(
        self,
        job: RenderJob,
        *,
        caps: Caps | None,
        tier: Tier = "fast",
        announce: ProgressEvent | None = None,
    ) -> None:
        """Put a job in its member's queue, or QuotaExceeded; a repeated call is a no-op.

        `caps=None` (the reconciler re-queueing a job Redis lost): no caps, not counted again.
        `announce` is appended to the job's progress events if, and only if, it was queued, in
        the same round trip.
        """
        spec = job.spec
        now = datetime.fromtimestamp(self.clock(), UTC)
        unlimited = 2**53
        status, used = await self.pipelined.run_script(
            self._submit,
            args=[
                PREFIX,
                job.generation_id,
                tier,
                guild_key(spec.guild_id),
                spec.owner_id,
                arq_head(job),
                unlimited if caps is None else caps.in_flight,
                unlimited if caps is None else caps.per_day,
                day_key(spec.owner_id, now),
                int(DAY_TTL.total_seconds()),
                0 if caps is None else 1,
                *(
                    ()
                    if announce is None
                    else (
                        events_key(job.generation_id),
                        stamped(announce).model_dump_json(),
                        EVENTS_MAXLEN,
                        EVENTS_TTL_S,
                    )
                ),
            ],
        )
        if status == -1:
            raise in_flight_refusal(used, await self.next_position(spec.owner_id))
        if status == -2:
            raise per_day_refusal(used, now)
        self.kick()

    async def check(self, owner_id: str, caps: Caps) -> tuple[int, int]:
        """QuotaExceeded if `enqueue` would refuse now: call it before writing anything. Else
        the member's usage, as `usage` gives it. One round trip, refusals included."""
        now = datetime.fromtimestamp(self.clock(), UTC)
        live, today, at = await self._read_usage(owner_id, now, caps)
        return self._allowed(live, today, at, caps, now)

    async def check_and_preview(self, spec: RenderSpec, caps: Caps) -> Preview:
        """`check`, and where a job for `spec` would stand in either tier if queued now
        (`preview_position`), in the same round trip: the per-/create path makes one call."""
        now = datetime.fromtimestamp(self.clock(), UTC)
        live, today, at, fast, relax = await self._read_usage(
            spec.owner_id, now, caps, guild=guild_key(spec.guild_id)
        )
        self._allowed(live, today, at, caps, now)
        return Preview(live, today, {"fast": fast, "relax": relax})

    @staticmethod
    def _allowed(live: int, today: int, at: int, caps: Caps, now: datetime) -> tuple[int, int]:
        if today >= caps.per_day:
            raise per_day_refusal(today, now)
        if live >= caps.in_flight:
            raise in_flight_refusal(live, at or None)
        return live, today

    async def _read_usage(
        self, owner_id: str, now: datetime, caps: Caps | None, *, guild: str | None = None
    ) -> list[int]:
        """[live, today, best place when over the in-flight cap (, places in `guild`)] in one
        round trip."""
        limits = (0, 0) if caps is None else (caps.in_flight, caps.per_day)
        args = [*await self._route_args(), owner_id, day_key(owner_id, now), *limits]
        usage = await self.pipelined.run_script(
            self._usage, args=args if guild is None else [*args, guild]
        )
        return [int(v) for v in usage]

    async def _route_args(self) -> list[str | int]:
        """The leading ARGV of `_PLACE_LIB` scripts: prefix, relax_every and the routes."""
        routes = route(await self.workers())
        return [PREFIX, self.share.relax_every, routes["fast"], routes["relax"]]

    # --- admitting ----------------------------------------------------------------------

    def kick(self) -> None:
        """Ask the loop for an admission step now (after a submit, or a finished clip)."""
        self._kick.set()

    async def workers(self) -> dict[str, int]:
        """Live workers per arq queue, from their heartbeat keys (cached briefly).

        One refresh at a time: in a burst every request would otherwise scan the keyspace
        at once when the cache runs out (measured: a third of the bot's CPU in a burst)."""
        if time.monotonic() - self._workers_at < self.workers_cache_s:
            return self._workers
        if self._workers_refresh is None or self._workers_refresh.done():
            self._workers_refresh = asyncio.ensure_future(self._scan_workers())
        return await asyncio.shield(self._workers_refresh)

    async def _scan_workers(self) -> dict[str, int]:
        keys = [k async for k in self.redis.scan_iter(match=heartbeat_key("*"), count=1000)]
        counts: dict[str, int] = {}
        for raw in await self.redis.mget(keys) if keys else []:
            if raw is None:  # expired between the scan and the read
                continue
            try:
                queue = str(json.loads(raw).get("queue") or DEFAULT_QUEUE)
            except (ValueError, AttributeError):
                queue = DEFAULT_QUEUE
            counts[queue] = counts.get(queue, 0) + 1
        self._workers, self._workers_at = counts, time.monotonic()
        return counts

    async def admit(self) -> list[str]:
        """One admission step: fill the arq queues up to their targets; the ids admitted."""
        workers = await self.workers()
        routes, depth = route(workers), targets(workers, self.share)
        admitted: list[str] = []
        while True:
            batch = await self._admit(
                args=[
                    PREFIX,
                    self.batch,
                    self.share.relax_every,
                    int(self.expires.total_seconds() * 1000),
                    routes["fast"],
                    depth[routes["fast"]],
                    routes["relax"],
                    depth[routes["relax"]],
                ]
            )
            admitted += [_text(g) for g in batch]
            if len(batch) < self.batch:
                return admitted

    async def run(self) -> None:
        """Admit after every kick, and every `poll_s` anyway (a background task of the bot)."""
        while True:
            self._kick.clear()
            try:
                for gid in await self.admit():
                    log.info("[%s] admitted", gid)
            except asyncio.CancelledError:
                raise
            except Exception:  # a Redis blip must not end the loop
                log.exception("admission step failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._kick.wait(), self.poll_s)

    # --- cancelling ---------------------------------------------------------------------

    async def cancel(self, generation_id: str) -> bool:
        """True: taken out before any worker had it (waiting, or queued in arq). False: the
        cancel key is set, and the worker rendering it stops at its next step."""
        ttl = int(CANCEL_TTL.total_seconds())
        out = await self._cancel(args=[PREFIX, generation_id, cancel_key(generation_id), ttl])
        return bool(out)

    # --- positions and ETA --------------------------------------------------------------

    async def snapshot(self) -> Snapshot:
        raw_cursor, entries, fast_depth, relax_depth = await self._snapshot(
            args=[PREFIX, QUEUE_OF["fast"], QUEUE_OF["relax"]]
        )
        flat = [_text(v) for v in raw_cursor]
        fields = dict(zip(flat[::2], flat[1::2], strict=True))
        cursor = Cursor(
            guild={k[2:]: v for k, v in fields.items() if k.startswith("g:")},
            member={k[2:]: v for k, v in fields.items() if k.startswith("m:")},
            relax_debt=int(fields.get("relax_debt", 0)),
        )
        queues: dict[str, dict[str, dict[str, list[str]]]] = {t: {} for t in TIERS}
        for tier, guild, member, gids in entries:
            queues[_text(tier)].setdefault(_text(guild), {})[_text(member)] = [
                _text(g) for g in gids
            ]
        depth = {QUEUE_OF["fast"]: int(fast_depth), QUEUE_OF["relax"]: int(relax_depth)}
        return Snapshot(queues, cursor, depth)

    async def positions(self) -> dict[str, int]:
        """Every waiting job's place in line for its arq queue (1 = next to render, counting
        the jobs already in arq and rendering). Replays the whole order, so it costs all waiting
        jobs: for listings, not for the per-/create path (`position`, `preview_position`)."""
        snap = await self.snapshot()
        routes = route(await self.workers())
        ahead = {q: snap.depth.get(q, 0) for q in set(routes.values())}
        places: dict[str, int] = {}
        for admission in fair_order(snap.queues, snap.cursor, routes, self.share):
            ahead[admission.queue] += 1
            places[admission.job] = ahead[admission.queue]
        return places

    async def position(self, generation_id: str) -> int | None:
        """1-based place in line; None when the job is neither waiting nor queued in arq."""
        return await self._where("job", generation_id)

    async def preview_position(self, spec: RenderSpec, tier: Tier = "fast") -> int:
        """Where a job for `spec` would stand if it were queued now (for the reply that goes
        out before it is queued)."""
        place = await self._where("preview", tier, guild_key(spec.guild_id), spec.owner_id)
        assert place is not None, "a previewed job always has a place"
        return place

    async def usage(self, owner_id: str) -> tuple[int, int]:
        """(jobs waiting, queued or rendering; submissions today) for /info."""
        live, today, _ = await self._read_usage(
            owner_id, datetime.fromtimestamp(self.clock(), UTC), None
        )
        return live, today

    async def next_position(self, owner_id: str) -> int | None:
        """The best place in line of any waiting job of the member's (for refusals)."""
        return await self._where("member", owner_id)

    async def _where(self, *what: str) -> int | None:
        """One round trip of `_PLACE`: cost bounded by the place, not by all waiting jobs."""
        place = await self._place(args=[*await self._route_args(), *what])
        return None if place is None else int(place)

    async def record_render(self, spec: RenderSpec, seconds: float, alpha: float = 0.3) -> None:
        """Feed one finished clip's work time into its backend and size class's average."""
        klass = size_class(spec.width, spec.height, spec.num_frames, spec.steps)
        await self._record(
            keys=[RENDER_TIMES_KEY], args=[f"{spec.backend}:{klass}", seconds, alpha]
        )

    async def eta(self, generation_id: str, spec: RenderSpec) -> float | None:
        """Seconds until the clip is ready: rounds of jobs ahead times its class's average."""
        position = await self.position(generation_id)
        if position is None:
            return None
        means = {
            _text(k): float(v) for k, v in (await self.redis.hgetall(RENDER_TIMES_KEY)).items()
        }
        klass = size_class(spec.width, spec.height, spec.num_frames, spec.steps)
        mean = estimate(means, spec.backend, klass)
        raw_tier, queue = await self.redis.hmget(f"{PREFIX}job:{generation_id}", ["tier", "queue"])
        workers = await self.workers()
        tier: Tier = "relax" if raw_tier == b"relax" else "fast"
        where = _text(queue) if queue else route(workers)[tier]
        count = workers.get(where, 0)
        if mean is None or count == 0:
            return None
        return ready_in(position, mean, count)
