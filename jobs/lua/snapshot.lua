-- Every waiting job, the cursors and the arq queues' depths, for a replay of the fair order
-- (after layout.lua), in every family's lanes.
-- KEYS: the cursor hash
-- ARG: the fast tier's queue name and the relax tier's, before a family's '@' suffix
-- -> {cursor hash fields, {{lane, guild, member, {gids}}...}, {queue, depth, ...}}
local entries, depths = {}, {}
for _, fam in ipairs(redis.call('SMEMBERS', FAMILIES)) do
  for i, tier in ipairs({'fast', 'relax'}) do
    local l = lane(tier, fam)
    for _, g in ipairs(redis.call('ZRANGE', ring(l), 0, -1)) do
      for _, m in ipairs(redis.call('ZRANGE', mring(l, g), 0, -1)) do
        entries[#entries + 1] = {l, g, m, redis.call('LRANGE', wlist(l, g, m), 0, -1)}
      end
    end
    local q = lane(ARG[i], fam)
    depths[#depths + 1] = q
    depths[#depths + 1] = redis.call('ZCARD', q)
  end
end
return {redis.call('HGETALL', KEYS[1]), entries, depths}
