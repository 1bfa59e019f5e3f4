"""Hand finished clips to the delivery consumer exactly once, whatever retries happen."""

from __future__ import annotations

from redis.asyncio import Redis

from core.spec import ResultRecord
from jobs.keys import RESULT_STREAM, result_sent_key
from jobs.scripts import lua

SENT_TTL_S = 7 * 24 * 3600


async def publish_result_once(redis: Redis, record: ResultRecord) -> bool:
    """Append the record to the result stream unless it was already appended; True if appended.

    Marking it sent and appending it are one script (`publish_result.lua`): a worker killed
    between the two can neither lose the record nor, on retry, append it a second time."""
    publish = redis.register_script(lua("publish_result"))
    entry_id = await publish(
        keys=[result_sent_key(record.generation_id), RESULT_STREAM],
        args=[record.model_dump_json(), SENT_TTL_S],
    )
    return entry_id is not None
