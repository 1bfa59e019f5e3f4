-- Delete a job's owner entry only if it is still ours (a successor may hold the job now).
-- KEYS: the owners hash
-- ARGV: gid, worker id -> 1 deleted, 0 not ours
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then
  return redis.call('HDEL', KEYS[1], ARGV[1])
end
return 0
