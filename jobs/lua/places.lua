-- Places in line, and a member's usage, without replaying the whole order (after layout.lua).
-- Each model family has its own lanes and arq queues: a job's place counts only the jobs of its
-- own family (a member waiting for an edit is not behind another family's /create jobs).
-- KEYS: the cursor hash [, for 'usage': the member's day count]
-- ARG: relax_every, the fast tier's queue name and the relax tier's before a family's '@' suffix,
--      n, then n times (family, the queue its fast tier goes to, the queue its relax tier goes
--      to): the families with live workers (any other goes to its own queues), what, then by what:
--   'preview', tier, family, guild, member: where a job that joined the member's list would stand
--   'job', gid: where the job stands
--   'member', member: the best place of any waiting job of the member's
--   -> the 1-based place in line, or nil
--   'usage', member, in-flight cap, daily cap [, guild, family]
--   -> {jobs waiting, queued or rendering; submissions today; the member's best place in line
--      when over the in-flight cap and under the daily one, else 0 [, where a new job of theirs
--      in that guild and family would stand in the fast tier, and in the relax tier]}
--
-- Within a lane, guilds take turns in ring order after the guild cursor, and members of a guild
-- in ring order after its member cursor, so the job at index k of member m's list is admitted at
-- m's (k+1)-th turn, which is g's turn
--   T = k + 1 + sum over members x of g before m in the ring of min(len x, k + 1)
--             + sum over members x of g after m of min(len x, k),
-- and that is admission number T + sum over guilds h before g of min(jobs of h, T)
--                                + sum over guilds h after g of min(jobs of h, T - 1)
-- of its lane. In a shared queue the other tier's admissions between come from the debt rule.
-- The scripts that change a list keep, beside each member ring, its depth sets: the members with
-- at least j jobs waiting, for each j (the ring itself is j = 1; layout.lua's `depth`). Since
--   sum over x of min(len x, k) = sum over j from 1 to k of #(members with at least j jobs),
-- each sum above is k lexicographic counts in a depth set, whatever the number of members, and
-- the jobs of a guild the sizes of its depth sets: a place costs O(k log members + guilds).
-- The first call after an upgrade builds the depth sets of the lists already waiting (once: the
-- cursor hash's `depths` field says they are kept).
local C = KEYS[1]
local every = tonumber(ARG[1])
local base = {fast = ARG[2], relax = ARG[3]}
local routes = {}
local n_routes = tonumber(ARG[4])
for i = 0, n_routes - 1 do
  routes[ARG[5 + 3 * i]] = {fast = ARG[6 + 3 * i], relax = ARG[7 + 3 * i]}
end
ARG = {unpack(ARG, 5 + 3 * n_routes)}  -- what, then by what
local function route(fam)  -- the family's queue per tier; its own queues with no live worker
  return routes[fam] or {fast = lane(base.fast, fam), relax = lane(base.relax, fam)}
end

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
  local n, j = 0, 1
  while n < cap do
    local more = redis.call('ZCARD', depth(tier, h, j))
    if more == 0 then break end
    n, j = n + more, j + 1
  end
  return math.max(0, math.min(n, cap))
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
  for j = 1, k + 1 do  -- a turn of each member with j jobs or more before m's (k+1)-th turn,
    local key = depth(tier, g, j)  -- if it is served before m, before m's k-th if after
    local ahead = before(key, mc, m)
    t = t + ahead
    if j > k then break end
    local others = redis.call('ZCARD', key) - (redis.call('ZSCORE', key, m) and 1 or 0)
    t = t + others - ahead
    if others == 0 then break end  -- nor has anyone else more jobs
  end
  local gc = redis.call('HGET', C, 'g:' .. tier) or nil
  if t == 1 then return 1 + before(ring(tier), gc, g) end
  local n, past = t, false  -- t > 1: g has jobs, so g is in its ring
  turns(ring(tier), gc, function(h)
    if h == g then past = true else n = n + guild_jobs(tier, h, past and t - 1 or t) end
  end)
  return n
end

local function place(tier, fam, g, m, k)  -- 1-based place in its arq queue
  local r = rank(lane(tier, fam), g, m, k)
  local to = route(fam)
  local n = r + redis.call('ZCARD', to[tier])
  if to.fast ~= to.relax then return n end
  local K = every - 1  -- fast admissions per relax one while both wait
  local s = math.max(0, K - tonumber(redis.call('HGET', C, 'relax_debt@' .. fam) or '0'))
  if tier == 'relax' then return n + tier_jobs(lane('fast', fam), s + (r - 1) * K) end
  local relax = 0
  if K == 0 then relax = 2 ^ 53 elseif r > s then relax = math.floor((r - 1 - s) / K) + 1 end
  return n + tier_jobs(lane('relax', fam), relax)
end

local function lane_place(l, g, m, k)  -- place() of a lane as a job record names it
  local tier, fam = string.match(l, '^([^@]*)@(.*)$')
  if not tier then return false end  -- an old release's un-suffixed lane: no worker reads it
  return place(tier, fam, g, m, k)
end

local function member_place(m)  -- the best place of any waiting job of m's (its lists' heads)
  local best = false
  local function try(l, g)
    local p = lane_place(l, g, m, 0)
    if p and (not best or p < best) then best = p end
  end
  local F = fkey(m)
  local lanes, guilds = {}, 0
  for _, fam in ipairs(redis.call('SMEMBERS', FAMILIES)) do
    for _, tier in ipairs({'fast', 'relax'}) do
      local l = lane(tier, fam)
      lanes[#lanes + 1] = l
      guilds = guilds + redis.call('ZCARD', ring(l))
    end
  end
  if redis.call('SCARD', F) > guilds then
    -- fewer guilds than jobs in flight (an uncapped member): look for m in each guild
    for _, l in ipairs(lanes) do
      scan(ring(l), '-', '+', function(g)
        if redis.call('ZSCORE', mring(l, g), m) then try(l, g) end
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

local function usage(m, in_flight_cap, day_cap, g, fam)
  local today = tonumber(redis.call('GET', KEYS[2]) or '0')
  local live = 0
  for _, gid in ipairs(redis.call('SMEMBERS', fkey(m))) do
    if redis.call('HGET', jkey(gid), 'state') == 'waiting'
        or redis.call('EXISTS', ARQ_JOB .. gid) == 1 then
      live = live + 1
    end
  end
  local at = 0
  if live >= tonumber(in_flight_cap) and today < tonumber(day_cap) then
    at = member_place(m) or 0
  end
  if g then
    local fast, relax = lane('fast', fam), lane('relax', fam)
    return {live, today, at, place('fast', fam, g, m, redis.call('LLEN', wlist(fast, g, m))),
      place('relax', fam, g, m, redis.call('LLEN', wlist(relax, g, m)))}
  end
  return {live, today, at}
end

local function build_depths()  -- once: lists left by a release that kept no depth sets
  if redis.call('HEXISTS', C, 'depths') == 1 then return end
  for _, fam in ipairs(redis.call('SMEMBERS', FAMILIES)) do
    for _, tier in ipairs({'fast', 'relax'}) do
      local l = lane(tier, fam)
      scan(ring(l), '-', '+', function(g)
        scan(mring(l, g), '-', '+', function(m)
          resized(l, g, m, 1, redis.call('LLEN', wlist(l, g, m)))
        end)
      end)
    end
  end
  redis.call('HSET', C, 'depths', 1)
end

build_depths()
local what = ARG[1]
if what == 'usage' then
  return usage(ARG[2], ARG[3], ARG[4], ARG[5], ARG[6])
elseif what == 'preview' then
  local tier, fam, g, m = ARG[2], ARG[3], ARG[4], ARG[5]
  return place(tier, fam, g, m, redis.call('LLEN', wlist(lane(tier, fam), g, m)))
elseif what == 'member' then
  return member_place(ARG[2])
elseif what ~= 'job' then
  return redis.error_reply('places.lua: unknown what ' .. tostring(what))
end
local gid = ARG[2]
local tier, g, m, state, q = unpack(redis.call('HMGET', jkey(gid), 'tier', 'guild', 'member',
  'state', 'queue'))
if state == 'waiting' then
  local k = redis.call('LPOS', wlist(tier, g, m), gid)
  return k and lane_place(tier, g, m, k)
elseif q then
  local r = redis.call('ZRANK', q, gid)
  return r and r + 1
end
return false
