"""Clips the output scan held or blocked, and reported clips scanned again, as moderators see
them (the worker scans: `worker.scan`; a moderator's Approve / Reject is carried out by
`bot.moderation.decisions.approve_clip` / `reject_clip`).

    worker: "hold"  → row done + "held", contact sheet → delivery posts, in the member's channel,
                      HELD_NOTE (the message the clip will become), then `on_scanned` posts the
                      sheet and its scores with Approve / Reject to the review channel
    Approve → "held" → "ok": that message is edited into the clip (so it is posted once), the
              member is told.  Reject (a reason) → "held" → "removed", the member is told.
    worker: "block" → failed + "removed", no file: the member reads that it was not posted, the
                      review channel gets the scores only (no pictures of what was blocked)
    first 🚩 on a clip → a worker scans it again → over a threshold: hidden at once and sent to
                      review with its contact sheet (Restore / Remove), before the threshold

Review messages carry a nonce from the generation id, so delivery retrying after a crash does
not post a second one.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

import discord
from discord.utils import escape_markdown

from bot.messages import command_name
from bot.moderation.buttons import post_review
from bot.moderation.decisions import HIDDEN_NOTE, SYSTEM, audit, edit_result, move, plain, tell
from core.commandline import to_command_line
from core.errors import BLOCKED_MESSAGE
from core.spec import DEFAULT_QUEUE, SCAN_TASK, RenderSpec, ResultRecord
from gallery.media import LocalMediaStore
from gallery.models import Generation, Moderation, ModerationAction
from gallery.moderation import ModerationStore
from gallery.web import clip_url
from jobs.fleet import worker_queue

if TYPE_CHECKING:
    from bot.app import ReelBot

log = logging.getLogger(__name__)

HELD_NOTE = "⏳ This clip is waiting for a moderator; it will appear here once they approve it."
UNREVIEWED_NOTE = "🚫 This clip didn't pass this server's content check, so it was not posted."
SCANNED = ("hold", "block")  # the audit actions the output scan itself records
KEPT = ("approve", "restore", "unhide")  # a moderator's decision to keep a clip public
SHEET_NAME = "contact-sheet.png"
RESCAN_WAIT_S = 300.0


def review_nonce(kind: str, generation_id: str) -> str:
    """Discord nonces are at most 25 characters: a letter for the message's kind, 24 of the id."""
    return f"{kind}{generation_id[:24]}"


async def on_scanned(bot: ReelBot, row: Generation, record: ResultRecord) -> None:
    """Delivery calls this for a clip the output scan held (done) or blocked (failed), once
    its message in the member's channel (if any) is recorded."""
    spec = RenderSpec.model_validate(row.spec)
    who = f"<@{spec.owner_id.partition(':')[2] or 0}>"
    where = f"<#{spec.channel_id}>" if spec.guild_id is not None else "a DM"
    command_line = to_command_line(
        spec, capabilities=bot.model_capabilities, default_quality=bot.default_quality
    )
    line = f"`{command_name(spec)} {plain(command_line)}`"
    why = plain(record.review or await _scan_reason(bot.moderation_store, row.id))[:600]
    if record.status == "failed":
        if bot.review_config.channel_id is not None:
            text = f"⛔ **Clip blocked by the output scan** · {who} in {where}\n{why}\n{line}"
            await post_review(bot, text, (), row.id, nonce=review_nonce("b", row.id))
        return
    if bot.review_config.channel_id is None:  # nobody could approve it: it is not posted, say so
        if await move(bot, row, (Moderation.HELD,), Moderation.REMOVED):
            fresh = await asyncio.to_thread(bot.store.get, row.id)
            why = "held by the output scan; no review channel"
            await audit(bot.moderation_store, "remove", row, SYSTEM, why)
            await edit_result(bot, fresh or row, UNREVIEWED_NOTE)
            await tell(bot, row, "Your clip " + BLOCKED_MESSAGE + ".")
        return
    text = f"🛡️ **Clip held by the output scan** · {who} in {where}\n{why}\n{line}"
    sheet = await _sheet(bot.media_store, record.sheet_path)
    await post_review(
        bot, text, ("approve", "reject"), row.id, file=sheet, nonce=review_nonce("h", row.id)
    )


async def _scan_reason(moderation: ModerationStore, generation_id: str) -> str:
    """Why the scan held or blocked a clip, from the audit log (a re-announced clip's record
    carries no reason)."""
    history = await asyncio.to_thread(moderation.history, generation_id)
    reasons = [a.reason for a in history if a.moderator_id == SYSTEM and a.action in SCANNED]
    return reasons[-1] if reasons else "over a threshold of the output scan"


def decided_by_moderator(history: list[ModerationAction]) -> bool:
    """A person approved or restored the clip: a classifier's second look does not overrule
    them (more reports still can, through the threshold)."""
    return any(a.moderator_id != SYSTEM and a.action in KEPT for a in history)


async def _sheet(media: LocalMediaStore, relative: str) -> discord.File | None:
    if not relative:
        return None
    path = await asyncio.to_thread(media.fetch, relative)
    return discord.File(path, filename=SHEET_NAME) if path is not None else None


class Rescans:
    """Reported clips scanned again by a worker, one at a time per clip, in the background."""

    def __init__(self, bot: ReelBot) -> None:
        self.bot = bot
        self.tasks: dict[str, asyncio.Task[None]] = {}

    def start(self, row: Generation) -> None:
        if row.id in self.tasks or not row.media_path or row.moderation != Moderation.OK:
            return
        task = asyncio.create_task(self._run(row), name=f"rescan-{row.id}")
        self.tasks[row.id] = task
        task.add_done_callback(lambda _: self.tasks.pop(row.id, None))

    async def _run(self, row: Generation) -> None:
        try:
            history = await asyncio.to_thread(self.bot.moderation_store.history, row.id)
            if decided_by_moderator(history):
                return  # a person already looked at it and kept it
            job = await self.bot.queue.enqueue_job(
                SCAN_TASK,
                {"generation_id": row.id},
                _job_id=f"scan:{row.id}",
                # a worker of the clip's own family scans it
                _queue_name=worker_queue(
                    DEFAULT_QUEUE, row.backend or self.bot.model_capabilities.name
                ),
            )
            if job is None:  # scanned already (arq keeps the result): nothing new to learn
                return
            result = await job.result(timeout=RESCAN_WAIT_S, poll_delay=0.2)
            await hide_if_flagged(self.bot, row, result)
        except Exception:  # the report still counts; only this early hide is lost
            log.exception("rescan of a reported clip failed", extra={"generation_id": row.id})

    async def close(self) -> None:
        for task in list(self.tasks.values()):
            task.cancel()
        await asyncio.gather(*self.tasks.values(), return_exceptions=True)


async def hide_if_flagged(bot: ReelBot, row: Generation, result: dict[str, str]) -> bool:
    """A rescan over a threshold hides the clip now and sends it to review; True if it did."""

    if result.get("decision") not in ("hold", "block"):
        return False
    if decided_by_moderator(await asyncio.to_thread(bot.moderation_store.history, row.id)):
        log.info(
            "rescan over a threshold, but a moderator kept the clip",
            extra={"generation_id": row.id},
        )
        return False
    if not await move(bot, row, (Moderation.OK,), Moderation.HIDDEN):
        return False
    why = result.get("review", "")
    await audit(bot.moderation_store, "hide", row, SYSTEM, f"reported; output scan: {why}")
    await edit_result(bot, row, HIDDEN_NOTE)
    if bot.review_config.channel_id is not None:
        owner = row.owner_id.partition(":")[2] if row.owner_id else "0"
        text = (
            f"🚩 **Reported clip hidden by the output scan** · by <@{owner}>\n{plain(why)[:600]}\n"
            f"> {escape_markdown(plain(row.prompt)[:500])}\n"
            f"{clip_url(bot.deliverer.public_url, row.id)}"
        )
        sheet = await _sheet(bot.media_store, result.get("sheet_path", ""))
        await post_review(bot, text, ("restore", "remove"), row.id, file=sheet)
    return True
