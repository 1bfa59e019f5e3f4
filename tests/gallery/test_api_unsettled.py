"""The webhook relay's poll reads API clips in flight through a partial index, not every API
clip ever made."""

from __future__ import annotations

import re
from pathlib import Path

import sqlalchemy as sa

from gallery.apitables import UNSETTLED_SQL
from gallery.db import make_engine, migrate
from gallery.webhook_outbox import Outbox
from gallery.webhook_store import FINAL_EVENTS


def test_the_index_names_exactly_the_final_events() -> None:
    assert sorted(re.findall(r"'([^']+)'", UNSETTLED_SQL)) == sorted(FINAL_EVENTS)


def test_sqlite_polls_through_the_partial_index(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'g.db'}")
    migrate(engine)
    outbox = Outbox(engine)
    seen: list[str] = []

    def explain(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        if "api_clip" in statement and statement.lstrip().upper().startswith("SELECT"):
            plan = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters).fetchall()
            seen.extend(str(row[-1]) for row in plan)

    sa.event.listen(engine, "before_cursor_execute", explain)
    try:
        assert outbox.clips_to_relay(changed_since=None) == []
    finally:
        sa.event.remove(engine, "before_cursor_execute", explain)
    assert any("ix_api_clip_unsettled" in step for step in seen), seen
