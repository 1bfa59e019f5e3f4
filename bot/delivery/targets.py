"""Where a clip goes when it is done: the channel, the "queued" message to reply to, the cap.

Kept in Redis beside the job (work in flight), written before the job is enqueued, so the
delivery consumer always knows where a finished clip belongs, even after a bot restart. If Redis
loses it (a restart without the AOF), the gallery row's spec still names the channel and member.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict
from redis.asyncio import Redis

from core.spec import RenderSpec
from jobs.keys import target_key
from jobs.pipelined import PipelinedRedis

TARGET_TTL_S = 8 * 24 * 3600  # longer than a job may wait in the queue
DEFAULT_UPLOAD_LIMIT = 10 * 1024 * 1024  # Discord's per-attachment default since 2025


class DeliveryTarget(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    channel_id: int
    status_message_id: int | None = None  # the public "queued" message, edited with progress
    user_id: int
    upload_limit: int = DEFAULT_UPLOAD_LIMIT


def target_from_spec(spec: RenderSpec) -> DeliveryTarget | None:
    """Where a request asked from Discord belongs when Redis lost its target (a restart without
    the AOF): its channel and member, as the gallery row's spec names them, without the queued
    message to reply to. None for a request that did not come from Discord (the terminal)."""
    member = spec.owner_id.removeprefix("discord:")
    if spec.channel_id is None or member == spec.owner_id or not member.isdigit():
        return None
    return DeliveryTarget(
        channel_id=spec.channel_id,
        user_id=int(member),
        upload_limit=spec.upload_limit or DEFAULT_UPLOAD_LIMIT,
    )


async def save_target(
    redis: Redis | PipelinedRedis, generation_id: str, target: DeliveryTarget
) -> None:
    """`redis` may be the bot's `PipelinedRedis`: in a burst, targets share round trips."""
    value = target.model_dump_json()
    await redis.execute_command("SET", target_key(generation_id), value, "EX", TARGET_TTL_S)


async def load_target(redis: Redis, generation_id: str) -> DeliveryTarget | None:
    raw = await redis.get(target_key(generation_id))
    return None if raw is None else DeliveryTarget.model_validate_json(raw)


async def pending_targets(redis: Redis) -> list[str]:
    """Generation ids that still have a target: in flight or not yet delivered."""
    prefix = target_key("")
    ids = []
    async for key in redis.scan_iter(match=f"{prefix}*", count=500):
        ids.append((key.decode() if isinstance(key, bytes) else key).removeprefix(prefix))
    return ids


async def forget_target(redis: Redis, generation_id: str) -> None:
    await redis.delete(target_key(generation_id))
