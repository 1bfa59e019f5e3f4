-- One admission step of one model family: move its waiting jobs into its arq queues in fair
-- order (after layout.lua). The port of core.fairshare.plan; tests/jobs/test_admission.py checks
-- that both agree. The family's lanes ('fast@' .. family, 'relax@' .. family) have their own
-- cursors and relax debt, so one family never waits behind another.
-- KEYS: the cursor hash, the queue the family's fast tier goes to, the queue its relax tier goes to
-- ARG: max admissions, relax_every, job expiry ms, fast queue's target depth,
--      relax queue's target depth, family
-- -> the admitted generation ids, in order
local C = KEYS[1]
local max_n, every, expires = tonumber(ARG[1]), tonumber(ARG[2]), tonumber(ARG[3])
local fam = ARG[6]
local route = {fast = KEYS[2], relax = KEYS[3]}
local target = {[KEYS[2]] = tonumber(ARG[4])}
if KEYS[3] ~= KEYS[2] then target[KEYS[3]] = tonumber(ARG[5]) end
local t = redis.call('TIME')
local now = string.format('%d', tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000))
local debt_field = 'relax_debt@' .. fam
local debt = tonumber(redis.call('HGET', C, debt_field) or '0')

local function next_after(key, last)
  local r = {}
  if last then r = redis.call('ZRANGEBYLEX', key, '(' .. last, '+', 'LIMIT', 0, 1) end
  if #r == 0 then r = redis.call('ZRANGEBYLEX', key, '-', '+', 'LIMIT', 0, 1) end
  return r[1]
end

local function admit(t, queue)
  local tier = lane(t, fam)
  local g = next_after(ring(tier), redis.call('HGET', C, 'g:' .. tier) or nil)
  local m = next_after(mring(tier, g), redis.call('HGET', C, 'm:' .. tier .. ':' .. g) or nil)
  if not m then redis.call('ZREM', ring(tier), g) return nil end
  local gid = redis.call('LPOP', wlist(tier, g, m))
  if gid then
    local n = redis.call('LLEN', wlist(tier, g, m))
    resized(tier, g, m, n + 1, n)
  end
  unlist(tier, g, m)
  redis.call('HSET', C, 'g:' .. tier, g, 'm:' .. tier .. ':' .. g, m)
  if not gid then return nil end
  -- write arq's job key and queue entry as ArqRedis.enqueue_job would, unless arq has the job
  local head = redis.call('HGET', jkey(gid), 'head')
  if head and redis.call('EXISTS', ARQ_JOB .. gid, ARQ_RESULT .. gid) == 0 then
    redis.call('SET', ARQ_JOB .. gid, head .. now .. '}', 'PX', expires)
    redis.call('ZADD', queue, now, gid)
  end
  redis.call('HSET', jkey(gid), 'state', 'admitted', 'queue', queue)
  redis.call('HDEL', jkey(gid), 'head')
  redis.call('PEXPIRE', jkey(gid), expires)
  -- the member's in-flight set outlives its newest admitted job, and no more: a crash that
  -- leaves an entry there (its result never published) leaves it for a week, not forever
  redis.call('PEXPIRE', fkey(m), expires)
  return gid
end

local admitted = {}
local queues = {KEYS[2]}
if KEYS[3] ~= KEYS[2] then queues[2] = KEYS[3] end
local budget = max_n
while budget > 0 do
  local progressed = false
  for _, q in ipairs(queues) do
    local tiers = {}
    for _, tier in ipairs({'fast', 'relax'}) do
      if route[tier] == q then tiers[#tiers + 1] = tier end
    end
    local waiting = {fast = redis.call('EXISTS', ring(lane('fast', fam))) == 1,
                     relax = redis.call('EXISTS', ring(lane('relax', fam))) == 1}
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
redis.call('HSET', C, debt_field, debt)
return admitted
