"""Group commit of gallery rows: a burst is written together, a refused row fails alone."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest

from gallery.db import make_engine, migrate
from gallery.models import GenerationCreate
from gallery.store import GalleryStore
from intake.rowwriter import RowWriter


def row(parent_id: str | None = None) -> GenerationCreate:
    spec = {
        "prompt": "a kite",
        "width": 512,
        "height": 288,
        "num_frames": 48,
        "fps": 24,
        "seed": 1,
        "owner_id": "cli:test",
        "owner_name": "test",
        "parent_id": parent_id,
    }
    return GenerationCreate.from_spec(uuid.uuid4().hex, spec)


class CountingStore(GalleryStore):
    def __init__(self, engine: object) -> None:
        super().__init__(engine)  # type: ignore[arg-type]
        self.batches: list[int] = []

    def add_generations(self, rows):  # type: ignore[no-untyped-def]
        self.batches.append(len(rows))
        return super().add_generations(rows)


@pytest.fixture
def store(tmp_path: Path) -> CountingStore:
    engine = make_engine(f"sqlite:///{tmp_path / 'r.db'}")
    migrate(engine)
    return CountingStore(engine)


async def test_a_burst_is_written_in_few_transactions_and_every_row_lands(store) -> None:
    writer = RowWriter(store)
    rows = [row() for _ in range(300)]
    assert await asyncio.gather(*(writer.add(r) for r in rows)) == [True] * 300
    assert all(store.get(r.id) is not None for r in rows)
    assert sum(store.batches) == 300 and len(store.batches) < 20
    assert await writer.add(rows[0]) is False  # a retried submission is a no-op


async def test_a_refused_row_fails_alone(store) -> None:
    writer = RowWriter(store)
    good = [row() for _ in range(5)]
    bad = row(parent_id="f" * 32)  # no such parent
    results = await asyncio.gather(
        *(writer.add(r) for r in [*good[:2], bad, *good[2:]]), return_exceptions=True
    )
    assert isinstance(results[2], ValueError) and "parent" in str(results[2])
    assert [r for i, r in enumerate(results) if i != 2] == [True] * 5
    assert all(store.get(r.id) is not None for r in good) and store.get(bad.id) is None
