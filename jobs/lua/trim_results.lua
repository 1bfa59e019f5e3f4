-- Acknowledge a delivered result (optionally), then drop from the result stream every entry all
-- of its consumer groups are done with: below each group's oldest pending entry and up to its
-- last-delivered one. An entry some group has not read, or read and not acknowledged, stays.
-- KEYS: the result stream
-- ARGV: group, entry id to acknowledge ('' for none), entries kept while no group exists
-- -> the number of entries trimmed
local S = KEYS[1]
if ARGV[1] ~= '' then redis.call('XACK', S, ARGV[1], ARGV[2]) end
if redis.call('EXISTS', S) == 0 then return 0 end

local function parse(id)
  local ms, seq = string.match(id, '^(%d+)-(%d+)$')
  return tonumber(ms), tonumber(seq)
end
local function less(a, b)
  local am, as = parse(a)
  local bm, bs = parse(b)
  return am < bm or (am == bm and as < bs)
end
local function after(id)  -- the smallest id greater than `id`
  local ms, seq = string.match(id, '^(%d+)-(%d+)$')
  return ms .. '-' .. string.format('%d', tonumber(seq) + 1)
end

local groups = redis.call('XINFO', 'GROUPS', S)
if #groups == 0 then  -- no reader yet (no bot has started): keep a generous backlog for it
  return redis.call('XTRIM', S, 'MAXLEN', '~', ARGV[3])
end
local keep = nil  -- the first entry some group still needs
for _, g in ipairs(groups) do
  local info = {}
  for i = 1, #g, 2 do info[g[i]] = g[i + 1] end
  local first = after(info['last-delivered-id'])
  local pending = redis.call('XPENDING', S, info['name'])
  if pending[1] > 0 and less(pending[2], first) then first = pending[2] end
  if keep == nil or less(first, keep) then keep = first end
end
return redis.call('XTRIM', S, 'MINID', keep)
