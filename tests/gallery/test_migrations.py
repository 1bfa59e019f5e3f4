"""The alembic migration on both databases: it matches the models, and racing it is harmless."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlmodel import SQLModel

from gallery import apitables, chartables  # noqa: F401  (registers their tables on the metadata)
from gallery.db import alembic_config, include_object, make_engine, migrate
from gallery.store import GalleryStore
from tests.gallery.factories import add_done

REPO = Path(__file__).resolve().parents[2]
HEAD = ScriptDirectory.from_config(alembic_config()).get_current_head()


def _schema_state(url: str) -> tuple[str | None, list[tuple[object, ...]]]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            revision = MigrationContext.configure(conn).get_current_revision()
            context = MigrationContext.configure(
                conn, opts={"include_object": include_object, "compare_type": True}
            )
            diffs = compare_metadata(context, SQLModel.metadata)
            return revision, diffs
    finally:
        engine.dispose()


def test_migration_matches_the_models(database_url: str) -> None:
    """A model change without a migration (or the reverse) shows up here as a difference."""
    engine = make_engine(database_url)
    try:
        migrate(engine)
        migrate(engine)  # idempotent: a restart migrates again
        add_done(GalleryStore(engine))
    finally:
        engine.dispose()
    revision, diffs = _schema_state(database_url)
    assert revision == HEAD
    assert diffs == []


def test_downgrade_and_upgrade_again(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        migrate(engine)
        with engine.begin() as conn:
            config = alembic_config()
            config.attributes["connection"] = conn
            command.downgrade(config, "base")
        assert sa.inspect(engine).get_table_names() == ["alembic_version"]
        migrate(engine)
        assert set(sa.inspect(engine).get_table_names()) >= {"member", "generation"}
    finally:
        engine.dispose()


@pytest.mark.timeout(120)
def test_concurrent_migrate_from_separate_processes(database_url: str, tmp_path: Path) -> None:
    """Bot, worker and gallery start together on an empty database: all must come up."""
    script = textwrap.dedent(
        """
        import sys, time
        from gallery.db import make_engine, migrate
        url, start_at = sys.argv[1], float(sys.argv[2])
        engine = make_engine(url)
        time.sleep(max(0.0, start_at - time.time()))
        migrate(engine)
        engine.dispose()
        """
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    start_at = time.time() + 2.0  # after every interpreter has imported SQLAlchemy
    workdir = tmp_path / "elsewhere"  # migrations are found from any working directory
    workdir.mkdir()
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script, database_url, str(start_at)],
            cwd=workdir,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(4)
    ]
    outputs = [proc.communicate(timeout=120)[0] for proc in procs]
    for proc, output in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, output
    revision, diffs = _schema_state(database_url)
    assert revision == HEAD and diffs == []


def _race(url: str, threads: int = 4) -> list[BaseException]:
    """Start `threads` engines on `url` at once, each migrating then writing; return errors."""
    engines = [make_engine(url) for _ in range(threads)]
    barrier = threading.Barrier(threads)
    errors: list[BaseException] = []

    def run(engine: sa.Engine) -> None:
        barrier.wait()
        try:
            GalleryStore(engine).ping()
            migrate(engine)
            add_done(GalleryStore(engine))
        except BaseException as exc:
            errors.append(exc)

    workers = [threading.Thread(target=run, args=(engine,)) for engine in engines]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    for engine in engines:
        engine.dispose()
    return errors


@pytest.mark.timeout(120)
def test_concurrent_migrate_from_threads(database_url: str) -> None:
    assert _race(database_url) == []
    assert _schema_state(database_url) == (HEAD, [])


@pytest.mark.timeout(120)
def test_first_start_on_a_new_sqlite_file_many_times(tmp_path: Path) -> None:
    """The race a fresh SQLite file invites (switching it to WAL while another connection
    writes) is rare per start, so try many starts."""
    for round_ in range(15):
        errors = _race(f"sqlite:///{tmp_path / f'round{round_}.db'}")
        assert errors == [], f"round {round_}: {errors}"


def test_sqlite_engine_settings(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'nested' / 'dir' / 'reelbot.db'}"
    engine = make_engine(url)  # creates the missing folders
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar_one() >= 5000
    finally:
        engine.dispose()
    assert (tmp_path / "nested" / "dir" / "reelbot.db").exists()


def test_sqlite_foreign_keys_are_enforced(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'fk.db'}")
    migrate(engine)
    try:
        with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:
            conn.exec_driver_sql(
                "INSERT INTO generation (id, owner_id, prompt, negative_prompt, spec, backend,"
                " seed, width, height, num_frames, fps, aspect_ratio, motion, hidden, status,"
                " attempts, worker, timings, created_at, updated_at) VALUES ('" + "a" * 32 + "',"
                " 'cli:nobody', 'p', '', '{}', '', 1, 8, 8, 1, 8, '', 1, 0, 'queued', 0, '',"
                " '{}', '2030-01-01 00:00:00', '2030-01-01 00:00:00')"
            )
    finally:
        engine.dispose()


def test_in_memory_sqlite_is_shared_across_threads() -> None:
    engine = make_engine("sqlite://")
    migrate(engine)
    store = GalleryStore(engine)
    gid = add_done(store)
    found: list[object] = []
    thread = threading.Thread(target=lambda: found.append(store.get(gid)))
    thread.start()
    thread.join()
    assert found and found[0] is not None
    engine.dispose()


def test_plain_postgresql_url_uses_psycopg3() -> None:
    engine = make_engine("postgresql://someone@db.invalid/reelbot")
    assert engine.dialect.driver == "psycopg"
    engine.dispose()


def test_0003_upgrades_existing_rows(database_url: str) -> None:
    """Clips made before the gallery revision keep showing: moderation "ok", a trending score,
    and their prompts searchable; a downgrade takes it all back out."""
    from gallery.browse import BrowseStore, SearchQuery
    from gallery.paging import Sort, hot_score

    engine = make_engine(database_url)
    try:
        with engine.begin() as conn:
            config = alembic_config()
            config.attributes["connection"] = conn
            command.upgrade(config, "0002")
            conn.exec_driver_sql(
                "INSERT INTO member (id, display_name, created_at, default_flags)"
                " VALUES ('cli:old', 'Old', '2030-01-01 00:00:00', '')"
            )
            for n, status in enumerate(("done", "done", "queued")):
                conn.exec_driver_sql(
                    "INSERT INTO generation (id, owner_id, prompt, negative_prompt, spec, backend,"
                    " seed, width, height, num_frames, fps, aspect_ratio, motion, hidden, status,"
                    " attempts, worker, timings, like_count, created_at, updated_at, finished_at)"
                    f" VALUES ('{n:032x}', 'cli:old', 'an old fox {n}', '', '{{}}', 'tiny', 1,"
                    f" 64, 64, 8, 8, '1:1', 1, false, '{status}', 1, '', '{{}}', {n * 4},"
                    " '2030-01-01 00:00:00', '2030-01-01 00:00:00', '2030-01-02 00:00:00')"
                )
        migrate(engine)
        store, browse = GalleryStore(engine), BrowseStore(engine)
        old = store.get(f"{1:032x}")
        assert old is not None and old.moderation == "ok" and old.is_public
        assert old.hot_score == pytest.approx(hot_score(4, old.finished_at))
        assert [c.id for c in browse.clips(Sort.TRENDING).clips] == [f"{1:032x}", f"{0:032x}"]
        found = browse.search(SearchQuery(text="foxes")).clips
        assert sorted(c.id for c in found) == [f"{0:032x}", f"{1:032x}"]
        new = add_done(store, prompt="a brand new fox")
        assert new in {c.id for c in browse.search(SearchQuery(text="fox")).clips}

        with engine.begin() as conn:
            config = alembic_config()
            config.attributes["connection"] = conn
            command.downgrade(config, "0002")
        inspector = sa.inspect(engine)
        columns = {c["name"] for c in inspector.get_columns("generation")}
        assert not {"moderation", "hot_score"} & columns
        assert "generation_fts" not in inspector.get_table_names()
        assert "ix_generation_feed" in {i["name"] for i in inspector.get_indexes("generation")}
    finally:
        engine.dispose()
