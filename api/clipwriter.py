"""The API's notes of which token asked for each clip, written a burst at a time.

Each clip's `ApiClip` row must be written before its job is queued (its first webhook event
needs it), and one transaction per request would be most of what a request costs in a burst:
as `intake.rowwriter` does for the gallery rows, a `Batcher` writes the rows that arrive
together in one transaction."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from gallery.api_clips import ApiClipNew, ApiClipStore
from jobs.batching import Batcher

MAX_BATCH = 200


class ApiClipWriter:
    def __init__(self, store: ApiClipStore) -> None:
        self.store = store
        self._batcher: Batcher[ApiClipNew, None] = Batcher(self._write, max_batch=MAX_BATCH)

    async def add(self, clip: ApiClipNew) -> None:
        await self._batcher(clip)

    async def _write(self, clips: Sequence[ApiClipNew]) -> list[BaseException | None]:
        try:
            await asyncio.to_thread(self.store.record_many, clips)
            return [None] * len(clips)
        except Exception as exc:
            if len(clips) == 1:
                return [exc]
        outcomes: list[BaseException | None] = []
        for clip in clips:  # one row refused (its generation gone): the others still written
            outcomes.extend(await self._write([clip]))
        return outcomes
