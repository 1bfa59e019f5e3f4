"""Live progress on the public "queued" message: edited at most every few seconds.

Edits go through the bot token on the channel message (not the interaction token, which dies
after 15 minutes), so a long wait or a bot restart does not end the updates.
"""

from __future__ import annotations

import asyncio
import logging
import time

import discord
from redis.asyncio import Redis

from bot.messages import progress_text
from bot.targets import load_target, pending_targets
from gallery.store import GalleryStore
from worker.events import follow_events
from worker.spec import RenderSpec

log = logging.getLogger(__name__)

EDIT_INTERVAL_S = 3.0  # Discord allows 5 edits / 5 s per channel; members don't need more


class ProgressTracker:
    def __init__(self, client: discord.Client, redis: Redis, store: GalleryStore) -> None:
        self.client = client
        self.redis = redis
        self.store = store
        self.tasks: dict[str, asyncio.Task[None]] = {}

    def track(self, generation_id: str, spec: RenderSpec) -> None:
        if generation_id not in self.tasks:
            task = asyncio.create_task(self._follow(generation_id, spec))
            self.tasks[generation_id] = task
            task.add_done_callback(lambda _: self.tasks.pop(generation_id, None))

    async def resume(self) -> None:
        """After a restart: follow again every request that is still waiting for its clip."""
        for gid in await pending_targets(self.redis):
            row = await asyncio.to_thread(self.store.get, gid)
            if row is not None and row.status in ("queued", "rendering"):
                self.track(gid, RenderSpec.model_validate(row.spec))

    async def _follow(self, generation_id: str, spec: RenderSpec) -> None:
        target = await load_target(self.redis, generation_id)
        if target is None or target.status_message_id is None:
            return
        message = self.client.get_partial_messageable(target.channel_id).get_partial_message(
            target.status_message_id
        )
        started = time.monotonic()
        last_edit = 0.0
        try:
            async for event in follow_events(self.redis, generation_id):
                if event.kind != "step" or time.monotonic() - last_edit < EDIT_INTERVAL_S:
                    continue
                last_edit = time.monotonic()
                text = progress_text(
                    target.user_id, spec, event.step, event.total, last_edit - started
                )
                await message.edit(content=text)
        except discord.HTTPException as exc:  # message deleted, permissions changed: stop quietly
            log.info("[%s] progress edits stopped: %s", generation_id, exc)

    async def close(self) -> None:
        for task in list(self.tasks.values()):
            task.cancel()
        await asyncio.gather(*self.tasks.values(), return_exceptions=True)
