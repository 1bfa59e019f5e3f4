-- The fair scheduler's key layout and ring helpers, shared by its scripts: jobs/scripts.py puts
-- this text in front of each of them when it reads them (Redis's Lua has no `require`).
-- ARGV starts with the key prefixes (jobs.scripts.LAYOUT, from jobs/keys.py); a script reads its
-- own arguments from ARG, the rest of ARGV.
-- Jobs wait in lanes: a tier within a model family ('fast@ltx', core.fairshare.lane). The ring
-- helpers take the lane where they say `tier`; FAMILIES is the set of families ever queued.
local GUILDS, MEMBERS, WAIT, JOB, FLIGHT = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local ARQ_JOB, ARQ_RESULT, ARQ_IN_PROGRESS, DEPTH = ARGV[6], ARGV[7], ARGV[8], ARGV[9]
local FAMILIES = ARGV[10]
local ARG = {unpack(ARGV, 11)}
local function lane(tier, fam) return tier .. '@' .. fam end
local function ring(tier) return GUILDS .. tier end
local function mring(tier, g) return MEMBERS .. tier .. ':' .. g end
local function wlist(tier, g, m) return WAIT .. tier .. ':' .. g .. ':' .. m end
local function jkey(gid) return JOB .. gid end
local function fkey(m) return FLIGHT .. m end
local function depth(tier, g, j)  -- the members of g with at least j jobs waiting in tier
  if j == 1 then return mring(tier, g) end
  return DEPTH .. tier .. ':' .. g .. ':' .. j
end
local function resized(tier, g, m, was, now)  -- m's list went from `was` jobs to `now`
  for j = math.max(now + 1, 2), was do redis.call('ZREM', depth(tier, g, j), m) end
  for j = math.max(was + 1, 2), now do redis.call('ZADD', depth(tier, g, j), 0, m) end
end
local function unlist(tier, g, m)  -- drop emptied member and guild from their rings
  if redis.call('LLEN', wlist(tier, g, m)) == 0 then
    redis.call('ZREM', mring(tier, g), m)
    if redis.call('ZCARD', mring(tier, g)) == 0 then redis.call('ZREM', ring(tier), g) end
  end
end
