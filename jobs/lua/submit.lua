-- Put a job in its member's wait list, unless a cap refuses it (after layout.lua).
-- KEYS: the member's day count [, the job's events stream]
-- ARG: gid, tier, guild, member, arq head, in-flight cap, daily cap, day count TTL s,
--      count it today (1/0) [, event JSON, stream max length, stream TTL s]
-- -> {status, used}: 1 queued, 0 already known, -1 in-flight cap, -2 daily cap
-- With the event arguments, a queued job's "queued" progress event is appended too.
local gid, tier, g, m = ARG[1], ARG[2], ARG[3], ARG[4]
if redis.call('EXISTS', jkey(gid)) == 1 then return {0, 0} end
local F = fkey(m)
for _, other in ipairs(redis.call('SMEMBERS', F)) do
  local state = redis.call('HGET', jkey(other), 'state')
  if state ~= 'waiting' and redis.call('EXISTS', ARQ_JOB .. other) == 0 then
    redis.call('SREM', F, other)  -- finished: arq drops its job key at the end
    redis.call('DEL', jkey(other))
  end
end
local used = redis.call('SCARD', F)
if used >= tonumber(ARG[6]) then return {-1, used} end
local dk = KEYS[1]
local today = tonumber(redis.call('GET', dk) or '0')
if today >= tonumber(ARG[7]) then return {-2, today} end
if ARG[9] == '1' then
  redis.call('INCR', dk)
  redis.call('EXPIRE', dk, ARG[8])
end
redis.call('HSET', jkey(gid), 'tier', tier, 'guild', g, 'member', m, 'day', dk,
  'head', ARG[5], 'state', 'waiting')
redis.call('RPUSH', wlist(tier, g, m), gid)
redis.call('ZADD', mring(tier, g), 0, m)
redis.call('ZADD', ring(tier), 0, g)
redis.call('SADD', F, gid)
if KEYS[2] then
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARG[11], '*', 'e', ARG[10])
  redis.call('EXPIRE', KEYS[2], ARG[12])
end
return {1, used + 1}
