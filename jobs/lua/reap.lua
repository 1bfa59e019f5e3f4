-- Free a dead owner's job: only if the dead worker still owns it and is still silent.
-- KEYS: the owners hash, the owner's heartbeat key, arq's in-progress key of the job
-- ARGV: gid, owner id -> 1 freed, 0 left alone
if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then return 0 end
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('DEL', KEYS[3])
return 1
