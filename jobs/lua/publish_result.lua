-- Mark a clip's result sent and append it to the result stream, in one atomic step: a worker
-- killed between the two can neither lose the record nor, on retry, append it a second time.
-- KEYS: the sent mark, the result stream
-- ARGV: record JSON, sent mark TTL s -> the entry id, or nil when already sent
if redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[2]) then
  return redis.call('XADD', KEYS[2], '*', 'r', ARGV[1])
end
return false
