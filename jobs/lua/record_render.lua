-- Feed one sample into an exponential moving average kept in a hash field.
-- KEYS: the hash
-- ARGV: field, sample, alpha -> the new average
local old = redis.call('HGET', KEYS[1], ARGV[1])
local v = tonumber(ARGV[2])
if old then v = tonumber(old) + tonumber(ARGV[3]) * (v - tonumber(old)) end
redis.call('HSET', KEYS[1], ARGV[1], tostring(v))
return tostring(v)
