"""How a clip is going and how it ended, told to everyone who waits on it.

Progress events (best effort) for the live status message, the result record the bot's delivery
consumer posts from (retried through a Redis outage: the clip is made), the gallery row's final
status, and the audit log's entry for what the output scan decided.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from redis.exceptions import RedisError

from core.errors import BLOCKED_MESSAGE
from core.spec import ProgressEvent, RenderSpec, ResultRecord
from gallery.models import Moderation
from gallery.moderation import ModerationStore
from gallery.store import GalleryStore
from jobs.events import publish_event
from jobs.results import publish_result_once
from worker.scan import ScanReport

log = logging.getLogger(__name__)

ANNOUNCE_TRIES = 8  # the finished clip's announcement outlasts a Redis restart of ~30 s
SYSTEM = "system"  # the moderator of record for what the output scan decides


async def publish_progress(redis: Any, gid: str, event: ProgressEvent) -> None:
    """Progress is best effort: a Redis blip must not throw away a render."""
    try:
        await publish_event(redis, gid, event)
    except Exception as exc:
        log.warning("progress event %s not published: %s", event.kind, exc)


async def announce_done(
    ctx: dict[str, Any],
    gid: str,
    media_path: str,
    *,
    upload_path: str = "",
    poster_path: str = "",
    review: str = "",
    sheet_path: str = "",
) -> None:
    """Hand the clip to delivery; retried through a Redis outage, since the clip is made."""
    record = ResultRecord(
        generation_id=gid,
        status="done",
        media_path=media_path,
        upload_path=upload_path,
        poster_path=poster_path,
        review=review,
        sheet_path=sheet_path,
    )
    for attempt in range(ANNOUNCE_TRIES):
        try:
            await publish_result_once(ctx["redis"], record)
            break
        except (RedisError, OSError) as exc:
            if attempt == ANNOUNCE_TRIES - 1:
                raise
            log.warning("result not announced yet (%s); retrying", exc)
            await asyncio.sleep(min(2**attempt, 10))
    await publish_progress(ctx["redis"], gid, ProgressEvent(kind="done", media_path=media_path))


async def fail_clip(ctx: dict[str, Any], gid: str, message: str, *, review: str = "") -> None:
    """The row marked failed and the member told why (`message` is in their words)."""
    store: GalleryStore = ctx["store"]
    await asyncio.to_thread(store.mark_failed, gid, error=message)
    record = ResultRecord(generation_id=gid, status="failed", message=message, review=review)
    await publish_result_once(ctx["redis"], record)
    await publish_progress(ctx["redis"], gid, ProgressEvent(kind="failed", message=message))


async def block_clip(ctx: dict[str, Any], gid: str, report: ScanReport) -> None:
    """A clip over a block threshold: removed (never public, never posted), no file written,
    an audit row, the member told without the scores, the moderators told with them."""
    store: GalleryStore = ctx["store"]
    review = report.summary()
    log.warning("blocked by the output scan: %s", review)
    await asyncio.to_thread(store.set_moderation, gid, Moderation.REMOVED)
    row = await asyncio.to_thread(store.get, gid)
    if row is not None:
        await audit_scan(
            ctx, "block", gid, RenderSpec.model_validate(row.spec), f"output scan: {review}"
        )
    await fail_clip(ctx, gid, BLOCKED_MESSAGE, review=review)


async def audit_scan(
    ctx: dict[str, Any], action: str, gid: str, spec: RenderSpec, reason: str
) -> None:
    """The audit log's row for what the output scan decided, as if a moderator had."""
    moderation: ModerationStore = ctx["moderation"]
    await asyncio.to_thread(
        moderation.record,
        action,
        moderator_id=SYSTEM,
        guild_id=spec.guild_id,
        target_member_id=spec.owner_id or None,
        target_generation_id=gid,
        reason=reason,
    )
