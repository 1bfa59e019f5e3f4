"""The batch feeder reads batch items still open (waiting or being submitted) through a partial
index, not every item of every batch ever made."""

from __future__ import annotations

import re
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from gallery.api_batches import OPEN_STATES, BatchStore
from gallery.apitables import OPEN_ITEMS_SQL
from gallery.db import make_engine, migrate


def test_the_index_names_exactly_the_open_states() -> None:
    assert sorted(re.findall(r"'([^']+)'", OPEN_ITEMS_SQL)) == sorted(OPEN_STATES)


def plans(engine: Engine, table: str, run: object) -> list[str]:
    seen: list[str] = []

    def explain(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        if table in statement and statement.lstrip().upper().startswith("SELECT"):
            plan = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters).fetchall()
            seen.extend(str(row[-1]) for row in plan)

    sa.event.listen(engine, "before_cursor_execute", explain)
    try:
        run()  # type: ignore[operator]
    finally:
        sa.event.remove(engine, "before_cursor_execute", explain)
    return seen


def test_sqlite_finds_members_with_open_items_through_the_partial_index(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'g.db'}")
    migrate(engine)
    batches = BatchStore(engine)
    seen = plans(engine, "api_batch_item", lambda: batches.waiting_members())
    assert any("ix_api_batch_item_open" in step for step in seen), seen
    assert not any(re.search(r"SCAN api_batch_item\b(?! USING)", step) for step in seen), seen
