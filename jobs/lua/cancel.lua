-- Take a job out before any worker has it, or ask its worker to stop (after layout.lua).
-- KEYS: the job's cancel key
-- ARG: gid, cancel key TTL s
-- -> 1 taken out (waiting, or queued in arq), 0 a worker may be rendering it: the cancel key is
--    set for its step callback (unless the job is not in the scheduler at all: finished)
local gid = ARG[1]
local j = jkey(gid)
local tier, g, m, dk, state, q, cost = unpack(redis.call('HMGET', j, 'tier', 'guild', 'member',
  'day', 'state', 'queue', 'cost'))
-- no record: finished (its result took it out of the scheduler) or never queued here. Nothing
-- renders it, so no cancel key is left behind for a day.
if not state then return 0 end
local out = false
if state == 'waiting' then
  local removed = redis.call('LREM', wlist(tier, g, m), 0, gid)
  local n = redis.call('LLEN', wlist(tier, g, m))
  resized(tier, g, m, n + removed, n)
  out = removed > 0
  unlist(tier, g, m)
elseif q and redis.call('EXISTS', ARQ_IN_PROGRESS .. gid) == 0
    and redis.call('ZREM', q, gid) == 1 then
  redis.call('DEL', ARQ_JOB .. gid)
  out = true
end
if out then
  redis.call('SREM', fkey(m), gid)
  redis.call('DEL', j)
  -- what it counted today given back (a story counted each of its shots: submit.lua)
  local made = tonumber(redis.call('GET', dk) or '0')
  if made > 0 then redis.call('DECRBY', dk, math.min(made, tonumber(cost or '1'))) end
  return 1
end
redis.call('SET', KEYS[1], '1', 'EX', ARG[2])
return 0
