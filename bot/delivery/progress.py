"""Live progress on the public "queued" message, within the channel's edit budget.

One reader follows the event streams of every clip in flight with a single blocking XREAD,
however many there are (a connection per clip would not survive a busy evening). Each step
event becomes the clip's newest state in `bot.delivery.pacing`, which edits a channel's
messages in turns, one at a time, well inside Discord's limits, so the clips' results are never
queued behind them; `finish` (called before a result is posted) ends a clip's edits. Edits go
through the bot token on the channel message, not the interaction token that dies after 15
minutes, so a long wait or a bot restart does not end the updates.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field

import discord
from redis.asyncio import Redis
from redis.typing import KeyT, StreamIdT

from bot.delivery.pacing import EditPacer
from bot.delivery.targets import DeliveryTarget, load_target, pending_targets
from bot.messages import progress_text
from core.logs import generation_context
from core.spec import RenderSpec
from gallery.store import GalleryStore
from jobs.events import TERMINAL_KINDS, read_event
from jobs.keys import events_key

log = logging.getLogger(__name__)

STREAMS_PER_READ = 500
ROTATING_BLOCK_MS = 100  # a read's wait when more clips are watched than one read takes
EVENTS_PREFIX = events_key("")


@dataclass
class Watch:
    spec: RenderSpec
    last_id: str = "0-0"
    target: DeliveryTarget | None = None
    target_read: bool = False
    started: float = field(default_factory=time.monotonic)


@dataclass(frozen=True)
class Progress:
    """A clip's newest step, waiting for its turn to be shown."""

    target: DeliveryTarget
    spec: RenderSpec
    step: int
    total: int
    started: float
    shot: str = ""  # a story's shot being rendered ("shot 2/3"; worker.story), else ""


class ProgressTracker:
    def __init__(self, client: discord.Client, redis: Redis, store: GalleryStore) -> None:
        self.client = client
        self.redis = redis
        self.store = store
        self.watched: dict[str, Watch] = {}
        self.pacer: EditPacer[Progress] = EditPacer(self._edit)
        self._added = asyncio.Event()
        self._window = 0  # where the next read's window starts, when they don't all fit

    def track(self, generation_id: str, spec: RenderSpec) -> None:
        self.watched.setdefault(generation_id, Watch(spec))
        self._added.set()

    async def resume(self) -> None:
        """After a restart: follow again every request that is still waiting for its clip."""
        for gid in await pending_targets(self.redis):
            row = await asyncio.to_thread(self.store.get, gid)
            if row is not None and row.status in ("queued", "rendering"):
                self.track(gid, RenderSpec.model_validate(row.spec))

    async def run(self) -> None:
        """Read every watched stream at once, forever (a background task of the bot)."""
        while True:
            if not self.watched:
                self._added.clear()
                await self._added.wait()
            batch = self._next_batch()
            streams: dict[KeyT, StreamIdT] = {
                events_key(gid): watch.last_id for gid, watch in batch
            }
            # more clips than one read takes: the next read's window must come round soon
            block_ms = 1000 if len(batch) == len(self.watched) else ROTATING_BLOCK_MS
            try:
                replies = await self.redis.xread(streams, block=block_ms, count=20)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("progress read failed; retrying")
                await asyncio.sleep(1)
                continue
            for stream, entries in replies or []:
                name = stream.decode() if isinstance(stream, bytes) else stream
                gid = name.removeprefix(EVENTS_PREFIX)
                for entry_id, fields in entries:
                    with generation_context(gid):  # its lines and its edit task's name the clip
                        try:
                            await self._on_event(gid, entry_id, fields)
                        except Exception:  # one odd entry must not end progress for every clip
                            log.exception("progress event %s skipped", entry_id)

    def _next_batch(self) -> list[tuple[str, Watch]]:
        """Every watched clip when one read takes them all, else the next window of
        `STREAMS_PER_READ`, round the watch list in turn: in a burst of thousands, a clip far
        down the list still gets its progress within a few reads, not after the first 500."""
        watched = list(self.watched.items())
        if len(watched) <= STREAMS_PER_READ:
            return watched
        start = self._window % len(watched)
        self._window = start + STREAMS_PER_READ
        return (watched[start:] + watched[:start])[:STREAMS_PER_READ]

    async def _on_event(
        self, gid: str, entry_id: bytes | str, fields: dict[bytes | str, bytes | str]
    ) -> None:
        watch = self.watched.get(gid)
        if watch is None:
            return
        watch.last_id = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
        event = read_event(fields)  # after last_id moved on: a bad entry is skipped, not reread
        if event.kind in TERMINAL_KINDS:
            self.watched.pop(gid, None)  # the delivery consumer posts the result
            self.pacer.drop(gid)
            return
        if event.kind != "step":
            return
        if not watch.target_read:
            watch.target = await load_target(self.redis, gid)
            watch.target_read = True
            if self.watched.get(gid) is not watch:
                return  # finished while the target was read
        target = watch.target
        if target is None or target.status_message_id is None:
            return
        progress = Progress(
            target, watch.spec, event.step, event.total, watch.started, shot=event.message
        )
        self.pacer.offer(target.channel_id, gid, progress)

    async def finish(self, gid: str) -> None:
        """The clip's result is about to be posted: no progress edit for it from now on."""
        self.watched.pop(gid, None)
        await self.pacer.finish(gid)

    async def _edit(self, gid: str, progress: Progress) -> None:
        target = progress.target
        elapsed = time.monotonic() - progress.started
        text = progress_text(target.user_id, progress.spec, progress.step, progress.total, elapsed)
        if progress.shot:  # "rendering shot 2/3 · `███░░` 12/30 · …"
            text = text.replace(" rendering ", f" rendering {progress.shot} · ", 1)
        channel = self.client.get_partial_messageable(target.channel_id)
        with generation_context(gid):
            try:
                await channel.get_partial_message(target.status_message_id or 0).edit(content=text)
            except discord.HTTPException as exc:  # deleted, permissions changed: stop following
                log.info("progress edits stopped: %s", exc)
                self.watched.pop(gid, None)
                self.pacer.drop(gid)

    async def close(self) -> None:
        await self.pacer.close()
