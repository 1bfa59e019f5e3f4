-- A member's place under their caps, and their job in its wait list (after layout.lua).
-- A front end reserves a place before it answers anyone, then queues the job once it has said
-- where the clip goes. A reservation counts against the caps like a waiting job (in the member's
-- in-flight set, and today's count as one of its places held that day) but is in no wait list,
-- so no worker can take it. Queueing turns it into the waiting job and counts it today for good;
-- releasing it gives the place back; one that is neither (its bot died) expires by itself: its
-- record goes, the next call drops it, and it cost nothing today.
-- ARG: what, then by what:
--   'reserve', gid, member, in-flight cap, daily cap, reservation TTL ms [, cost]
--     KEYS: the member's day count
--     (cost: the clips it counts today, a story's shots; 1 when not given)
--     -> {status, used, made today before it}: 1 reserved, 0 already known, -1 in-flight cap,
--        -2 daily cap
--   'queue', gid, lane (tier@family), guild, member, arq head, in-flight cap, daily cap,
--     day count TTL s, count it today (its cost, 0: not) [, event JSON, stream max length,
--     stream TTL s]
--     KEYS: the member's day count [, the job's events stream]
--     -> {status, used}: 1 queued, 0 already known, -1 in-flight cap, -2 daily cap
--     A reserved job is queued without a second look at the caps, and counted on the day it was
--     reserved. With the event
--     arguments, a queued job's "queued" progress event is appended too.
--   'release', gid -> 1 the reservation is gone, 0 there was none
local what, gid = ARG[1], ARG[2]
local j = jkey(gid)

-- the member's jobs waiting, reserved, queued or rendering; and their places reserved on the
-- day KEYS[1] counts
local function live(m)
  local F = fkey(m)
  local held_today = 0
  for _, other in ipairs(redis.call('SMEMBERS', F)) do
    local state, day, cost = unpack(redis.call('HMGET', jkey(other), 'state', 'day', 'cost'))
    if state == 'reserved' then
      if day == KEYS[1] then held_today = held_today + tonumber(cost or '1') end
    elseif state ~= 'waiting' and redis.call('EXISTS', ARQ_JOB .. other) == 0 then
      redis.call('SREM', F, other)  -- finished (arq drops its job key), or a lapsed reservation
      redis.call('DEL', jkey(other))
    end
  end
  return redis.call('SCARD', F), held_today
end

local function within_caps(m, in_flight_cap, day_cap, cost)  -- nil, or the refusal
  local used, held_today = live(m)
  if used >= tonumber(in_flight_cap) then return {-1, used} end
  local today = tonumber(redis.call('GET', KEYS[1]) or '0') + held_today
  if today + cost > tonumber(day_cap) then return {-2, today} end
  return nil, used, today
end

local function count_today(day, ttl, cost)
  redis.call('INCRBY', day, cost)
  redis.call('EXPIRE', day, ttl)
end

if what == 'reserve' then
  local m = ARG[3]
  if redis.call('EXISTS', j) == 1 then return {0, 0, 0} end
  local cost = tonumber(ARG[7] or '1')
  local refused, used, today = within_caps(m, ARG[4], ARG[5], cost)
  if refused then return refused end
  redis.call('HSET', j, 'member', m, 'day', KEYS[1], 'state', 'reserved', 'cost', cost)
  redis.call('PEXPIRE', j, ARG[6])
  -- the in-flight set outlives this place, and a member who never comes back leaves no set:
  -- a set with no expiry holds a waiting job, which keeps it until admission gives it one
  local ttl = redis.call('PTTL', fkey(m))
  redis.call('SADD', fkey(m), gid)
  if ttl == -2 or (ttl >= 0 and ttl < tonumber(ARG[6])) then
    redis.call('PEXPIRE', fkey(m), ARG[6])
  end
  return {1, used + 1, today}
end

if what == 'release' then
  local m, state = unpack(redis.call('HMGET', j, 'member', 'state'))
  if state ~= 'reserved' then return 0 end
  redis.call('SREM', fkey(m), gid)
  redis.call('DEL', j)
  return 1
end

if what ~= 'queue' then
  return redis.error_reply('submit.lua: unknown what ' .. tostring(what))
end
local tier, g, m = ARG[3], ARG[4], ARG[5]
local state = redis.call('HGET', j, 'state')
local used
if state == 'reserved' then  -- its place is held: counted on the day it was reserved
  redis.call('PERSIST', j)
  local day, cost = unpack(redis.call('HMGET', j, 'day', 'cost'))
  count_today(day, ARG[9], tonumber(cost or '1'))
  used = redis.call('SCARD', fkey(m))
else
  if state or redis.call('EXISTS', j) == 1 then return {0, 0} end
  local refused, today
  local cost = tonumber(ARG[10])
  refused, used, today = within_caps(m, ARG[7], ARG[8], math.max(cost, 1))
  if refused then return refused end
  if cost > 0 then count_today(KEYS[1], ARG[9], cost) end
  redis.call('HSET', j, 'day', KEYS[1], 'cost', math.max(cost, 1))
  used = used + 1
end
redis.call('HSET', j, 'tier', tier, 'guild', g, 'member', m, 'head', ARG[6], 'state', 'waiting')
local n = redis.call('RPUSH', wlist(tier, g, m), gid)
resized(tier, g, m, n - 1, n)
redis.call('ZADD', mring(tier, g), 0, m)
redis.call('ZADD', ring(tier), 0, g)
local fam = string.match(tier, '@(.*)$')
if fam then redis.call('SADD', FAMILIES, fam) end
redis.call('SADD', fkey(m), gid)
redis.call('PERSIST', fkey(m))  -- a waiting job keeps its member's set (admission dates it)
if KEYS[2] then
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARG[12], '*', 'e', ARG[11])
  redis.call('EXPIRE', KEYS[2], ARG[13])
end
return {1, used}
