"""Live progress on the public "queued" message: edited at most every few seconds.

One reader follows the event streams of every clip in flight with a single blocking XREAD,
however many there are (a connection per clip would not survive a busy evening). Edits go
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

from bot.delivery.targets import DeliveryTarget, load_target, pending_targets
from bot.messages import progress_text
from core.logs import generation_context
from core.spec import RenderSpec
from gallery.store import GalleryStore
from jobs.events import TERMINAL_KINDS, read_event
from jobs.keys import events_key

log = logging.getLogger(__name__)

EDIT_INTERVAL_S = 3.0  # Discord allows 5 edits / 5 s per channel; members don't need more
STREAMS_PER_READ = 500
ROTATING_BLOCK_MS = 100  # a read's wait when more clips are watched than one read takes
EVENTS_PREFIX = events_key("")


@dataclass
class Watch:
    spec: RenderSpec
    last_id: str = "0-0"
    target: DeliveryTarget | None = None
    started: float = field(default_factory=time.monotonic)
    last_edit: float = 0.0


class ProgressTracker:
    def __init__(self, client: discord.Client, redis: Redis, store: GalleryStore) -> None:
        self.client = client
        self.redis = redis
        self.store = store
        self.watched: dict[str, Watch] = {}
        self._added = asyncio.Event()
        self._edits: set[asyncio.Task[None]] = set()
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
            streams = {events_key(gid): watch.last_id for gid, watch in batch}
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

    async def _on_event(self, gid: str, entry_id: bytes | str, fields: dict) -> None:
        watch = self.watched.get(gid)
        if watch is None:
            return
        watch.last_id = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
        event = read_event(fields)  # after last_id moved on: a bad entry is skipped, not reread
        if event.kind in TERMINAL_KINDS:
            self.watched.pop(gid, None)  # the delivery consumer posts the result
            return
        now = time.monotonic()
        if event.kind != "step" or now - watch.last_edit < EDIT_INTERVAL_S:
            return
        watch.last_edit = now
        if watch.target is None:
            watch.target = await load_target(self.redis, gid)
        target = watch.target
        if target is None or target.status_message_id is None:
            return
        text = progress_text(
            target.user_id, watch.spec, event.step, event.total, now - watch.started
        )
        task = asyncio.create_task(self._edit(gid, target, text))
        self._edits.add(task)
        task.add_done_callback(self._edits.discard)

    async def _edit(self, gid: str, target: DeliveryTarget, text: str) -> None:
        channel = self.client.get_partial_messageable(target.channel_id)
        try:
            await channel.get_partial_message(target.status_message_id or 0).edit(content=text)
        except discord.HTTPException as exc:  # deleted, permissions changed: stop following it
            log.info("progress edits stopped: %s", exc)
            self.watched.pop(gid, None)

    async def close(self) -> None:
        for task in list(self._edits):
            task.cancel()
        await asyncio.gather(*self._edits, return_exceptions=True)
