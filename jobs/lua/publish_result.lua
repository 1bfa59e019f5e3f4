-- Mark a clip's result sent and append it to the result stream, in one atomic step: a worker
-- killed between the two can neither lose the record nor, on retry, append it a second time.
-- The clip is finished, so it leaves the scheduler in the same step: its job record, its entry
-- in its member's in-flight set (Redis deletes the set with its last entry) and any request to
-- cancel it go.
-- KEYS: the sent mark, the result stream, the job's scheduler record, its cancel key
-- ARGV: record JSON, sent mark TTL s, the in-flight sets' prefix, gid
-- -> the entry id, or nil when already sent
local member = redis.call('HGET', KEYS[3], 'member')
if member then redis.call('SREM', ARGV[3] .. member, ARGV[4]) end
redis.call('DEL', KEYS[3], KEYS[4])
if redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[2]) then
  return redis.call('XADD', KEYS[2], '*', 'r', ARGV[1])
end
return false
