"""Gallery rows for a burst of requests, written with one transaction per burst.

Every request's row must be in the database before its job is queued (the database is the
system of record), but one thread hop and one commit per request is most of what a request costs
the bot in a burst. Rows go through a `Batcher`: a lone request is written at once and a burst of
a thousand takes a few dozen commits. If a batch is refused (one row's parent is missing), each
of its rows is retried on its own, so one bad request never fails the others.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from gallery.models import GenerationCreate
from gallery.store import GalleryStore
from jobs.batching import Batcher

MAX_BATCH = 200


class RowWriter:
    def __init__(self, store: GalleryStore) -> None:
        self.store = store
        self._batcher: Batcher[GenerationCreate, bool] = Batcher(self._write, max_batch=MAX_BATCH)

    async def add(self, row: GenerationCreate) -> bool:
        """Record `row` (see `GalleryStore.add_generation`); False if it was already there."""
        return await self._batcher(row)

    async def _write(self, rows: Sequence[GenerationCreate]) -> list[bool | BaseException]:
        try:
            return list(await asyncio.to_thread(self.store.add_generations, rows))
        except Exception as exc:
            if len(rows) == 1:
                return [exc]
        outcomes: list[bool | BaseException] = []
        for row in rows:  # find the one that was refused
            outcomes.extend(await self._write([row]))
        return outcomes
