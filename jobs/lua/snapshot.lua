-- Every waiting job, the cursors and the arq queues' depths, for a replay of the fair order
-- (after layout.lua).
-- KEYS: the cursor hash, the fast queue, the relax queue
-- -> {cursor hash fields, {{tier, guild, member, {gids}}...}, fast depth, relax depth}
local entries = {}
for _, tier in ipairs({'fast', 'relax'}) do
  for _, g in ipairs(redis.call('ZRANGE', ring(tier), 0, -1)) do
    for _, m in ipairs(redis.call('ZRANGE', mring(tier, g), 0, -1)) do
      entries[#entries + 1] = {tier, g, m, redis.call('LRANGE', wlist(tier, g, m), 0, -1)}
    end
  end
end
return {redis.call('HGETALL', KEYS[1]), entries, redis.call('ZCARD', KEYS[2]),
  redis.call('ZCARD', KEYS[3])}
