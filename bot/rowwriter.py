"""Gallery rows for a burst of requests, written with one transaction per burst.

Every request's row must be in the database before its job is queued (the database is the
system of record), but one thread hop and one commit per request is most of what a request costs
the bot in a burst. Rows that arrive while a write is running wait for the next one and go in
together, so a lone request is written at once and a burst of a thousand takes a few dozen
commits. If a batch is refused (one row's parent is missing), each of its rows is retried on its
own, so one bad request never fails the others.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from gallery.models import GenerationCreate
from gallery.store import GalleryStore

MAX_BATCH = 200


class RowWriter:
    def __init__(self, store: GalleryStore) -> None:
        self.store = store
        self._pending: list[tuple[GenerationCreate, asyncio.Future[bool]]] = []
        self._writing: asyncio.Task[None] | None = None

    async def add(self, row: GenerationCreate) -> bool:
        """Record `row` (see `GalleryStore.add_generation`); False if it was already there."""
        done: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._pending.append((row, done))
        if self._writing is None or self._writing.done():
            self._writing = asyncio.create_task(self._write_all())
        return await done

    async def _write_all(self) -> None:
        while self._pending:
            batch, self._pending = self._pending[:MAX_BATCH], self._pending[MAX_BATCH:]
            await self._write([row for row, _ in batch], [done for _, done in batch])

    async def _write(
        self, rows: Sequence[GenerationCreate], waiting: list[asyncio.Future[bool]]
    ) -> None:
        try:
            created = await asyncio.to_thread(self.store.add_generations, rows)
        except Exception as exc:
            if len(rows) == 1:
                _settle(waiting[0], exc=exc)
                return
            for row, done in zip(rows, waiting, strict=True):  # find the one that was refused
                await self._write([row], [done])
            return
        for done, added in zip(waiting, created, strict=True):
            _settle(done, result=added)


def _settle(
    future: asyncio.Future[bool], *, result: bool = False, exc: BaseException | None = None
) -> None:
    if future.done():  # its request was cancelled meanwhile
        return
    if exc is not None:
        future.set_exception(exc)
    else:
        future.set_result(result)
