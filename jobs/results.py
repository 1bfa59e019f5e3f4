"""Hand finished clips to the delivery consumer exactly once, whatever retries happen."""

from __future__ import annotations

from redis.asyncio import Redis

from core.spec import RESULT_STREAM, ResultRecord, result_sent_key

SENT_TTL_S = 7 * 24 * 3600

# Marking "sent" and appending happen in one atomic step: a worker killed between the two can
# neither lose the record nor, on retry, append it a second time.
_PUBLISH_ONCE = """
if redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[2]) then
  return redis.call('XADD', KEYS[2], '*', 'r', ARGV[1])
end
return false
"""


async def publish_result_once(redis: Redis, record: ResultRecord) -> bool:
    """Append the record to the result stream unless it was already appended; True if appended."""
    entry_id = await redis.eval(
        _PUBLISH_ONCE,
        2,
        result_sent_key(record.generation_id),
        RESULT_STREAM,
        record.model_dump_json(),
        SENT_TTL_S,
    )
    return entry_id is not None
