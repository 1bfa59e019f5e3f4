"""Each public page reads one range of its own index, on both databases, with no statistics
(SQLite never gets ANALYZE from the gallery) and no sort of the table."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine

from gallery.browse import BrowseStore, SearchQuery
from gallery.models import UNFINISHED, UNFINISHED_SQL
from gallery.paging import Period, Sort
from gallery.store import GalleryStore
from tests.gallery.factories import add_done

CASES: dict[str, tuple[Callable[[BrowseStore], Any], str]] = {
    "new": (lambda b: b.clips(Sort.NEW, cursor=b.clips(Sort.NEW, limit=2).next), "public_new"),
    "top": (lambda b: b.clips(Sort.TOP, cursor=b.clips(Sort.TOP, limit=2).next), "public_top"),
    "top week": (lambda b: b.clips(Sort.TOP, period=Period.WEEK), "public_"),
    "trending": (lambda b: b.clips(Sort.TRENDING), "public_hot"),
    "member": (lambda b: b.member_clips("cli:alice"), "public_owner"),
    "member stats": (lambda b: b.member("cli:alice"), "public_owner"),
    "held": (lambda b: b.moderation_list("held"), "ix_generation_moderation"),
}


def _plans(engine: Engine, call: Callable[[], Any]) -> list[str]:
    captured: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, params: Any, *args: Any) -> None:
        if "FROM generation" in statement and not statement.startswith("EXPLAIN"):
            captured.append((statement, params))

    event.listen(engine, "before_cursor_execute", capture)
    try:
        call()
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    plans = []
    with engine.connect() as conn:
        for statement, params in captured:
            if engine.dialect.name == "sqlite":
                rows = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", params).all()
                plans.append(" | ".join(str(row[-1]) for row in rows))
            else:
                conn.exec_driver_sql("SET enable_seqscan = off")  # tiny tables: as if large
                rows = conn.exec_driver_sql(f"EXPLAIN {statement}", params).all()
                plans.append(" | ".join(str(row[0]) for row in rows))
    return plans


@pytest.mark.parametrize("case", sorted(CASES))
def test_public_pages_use_their_index(store: GalleryStore, case: str) -> None:
    for n in range(6):
        add_done(store, prompt=f"a fox number {n}")
    call, index = CASES[case]
    plans = _plans(store.engine, lambda: call(BrowseStore(store.engine)))
    assert plans
    for plan in plans:
        assert index in plan, plan
        assert "Seq Scan" not in plan and "SCAN generation |" not in plan + " |", plan
        if case not in ("top week", "held"):  # a short range sorted: a week, the held few
            assert "Sort" not in plan and "TEMP B-TREE" not in plan, plan


def test_search_uses_the_full_text_index(store: GalleryStore) -> None:
    for n in range(6):
        add_done(store, prompt=f"a fox number {n}")
    browse = BrowseStore(store.engine)
    plans = _plans(store.engine, lambda: browse.search(SearchQuery(text="foxes")))
    expected = "generation_fts" if store.engine.dialect.name == "sqlite" else "ix_generation_"
    assert plans and all(expected in plan and "Seq Scan" not in plan for plan in plans), plans
    if store.engine.dialect.name == "sqlite":  # walked in index order: no sort at all
        assert all("TEMP B-TREE" not in plan for plan in plans), plans


def test_unfinished_words_match_the_statuses() -> None:
    assert "status IN ({})".format(", ".join(f"'{s}'" for s in UNFINISHED)) == UNFINISHED_SQL
