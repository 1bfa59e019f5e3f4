"""The engine and the schema: one place that knows how each database wants to be opened.

Only entry points call `make_engine`; everything else receives the engine. `migrate` runs the
alembic migrations shipped inside this package, so a fresh install (or a PostgreSQL URL) gets its
schema the same way an upgrade does, from any working directory.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import threading
import time
import weakref
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy import event
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.pool import NullPool, StaticPool

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().with_name("migrations")
# How long a SQLite writer waits for another one before "database is locked".
SQLITE_BUSY_TIMEOUT_S = 30.0
# Any constant works; it only has to be the same in every process migrating one database.
_PG_MIGRATION_LOCK = 0x7265656C  # "reel"


def _normalise_url(url: str) -> URL:
    """Parse the URL; plain `postgresql://` means psycopg 3, the driver we ship."""
    sa_url = make_url(url)
    if sa_url.drivername in ("postgres", "postgresql"):
        sa_url = sa_url.set(drivername="postgresql+psycopg")
    return sa_url


def _is_memory(sa_url: URL) -> bool:
    return sa_url.database in (None, "", ":memory:") or "mode=memory" in str(sa_url)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any = None) -> None:
    """Per-connection SQLite settings: WAL so the web can read while a worker writes."""
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout = {int(SQLITE_BUSY_TIMEOUT_S * 1000)}")
        cursor.execute("PRAGMA foreign_keys = ON")
        _enable_wal(cursor)
        cursor.execute("PRAGMA synchronous = NORMAL")
    finally:
        cursor.close()


def _enable_wal(cursor: Any) -> None:
    """Switch a database file to WAL (a persistent setting), retrying while it is contended.

    Only a brand-new file is not in WAL yet. If another connection is writing to it then,
    SQLite refuses the switch at once with "database is locked" instead of waiting (waiting could
    deadlock), so wait here: the writer finishes and the next try succeeds, or finds WAL set.
    """
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_S
    while True:
        try:
            if cursor.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                cursor.execute("PRAGMA journal_mode = WAL").fetchone()
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def _sqlite_connect_args() -> dict[str, Any]:
    # Sessions run in worker threads (asyncio.to_thread), so connections move between threads.
    return {"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_S}


def make_engine(url: str) -> Engine:
    """An engine for `url`, set up for the gallery's access pattern (short sessions, threads)."""
    sa_url = _normalise_url(url)
    if sa_url.get_backend_name() != "sqlite":
        return sa.create_engine(sa_url, pool_pre_ping=True)
    if _is_memory(sa_url):
        # One shared connection, or every thread would see its own empty database.
        engine = sa.create_engine(sa_url, connect_args=_sqlite_connect_args(), poolclass=StaticPool)
    else:
        assert sa_url.database is not None
        Path(sa_url.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(sa_url, connect_args=_sqlite_connect_args())
    event.listen(engine, "connect", _sqlite_pragmas)
    return engine


_WRITE_LOCKS: weakref.WeakKeyDictionary[Engine, threading.Lock] = weakref.WeakKeyDictionary()


def write_lock(engine: Engine) -> AbstractContextManager[Any]:
    """Serialise this process's writes to a SQLite file; a no-op on other databases.

    SQLite takes one writer at a time. Threads that collide wait in its busy handler, which
    sleeps in steps of up to 100 ms; queueing on a lock instead keeps a burst of requests at
    the speed of the writes themselves (measured with bench/frontend.py).
    """
    if engine.dialect.name != "sqlite":
        return contextlib.nullcontext()
    lock = _WRITE_LOCKS.get(engine)
    if lock is None:
        lock = _WRITE_LOCKS.setdefault(engine, threading.Lock())
    return lock


# Search structures that exist only in the database, not in the models (one per dialect):
# SQLite's FTS5 table (and its shadow tables), PostgreSQL's expression index on prompts.
SEARCH_OBJECTS = ("generation_fts", "ix_generation_search")


def include_object(
    obj: object, name: str | None, type_: str, reflected: bool, compare_to: object
) -> bool:
    """For alembic's autogenerate: leave the search structures alone (see migration 0003)."""
    return not (name and name.startswith(SEARCH_OBJECTS))


def alembic_config() -> Config:
    """An alembic config pointing at the migrations inside this package (no ini file needed)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("path_separator", "os")
    return config


def _upgrade(connection: Connection) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision; safe to run from several processes at once.

    Each process takes a database-wide lock first, then lets alembic read the current revision,
    so the second one to start finds the schema already current instead of racing to create it:
    an advisory lock on PostgreSQL, a `BEGIN IMMEDIATE` write lock on SQLite. Both databases
    run DDL transactionally here, so a failed migration leaves nothing half-done.
    """
    if engine.dialect.name == "postgresql":
        with engine.begin() as connection:
            connection.execute(
                sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_MIGRATION_LOCK}
            )
            _upgrade(connection)
    elif engine.dialect.name == "sqlite" and not _is_memory(engine.url):
        _migrate_sqlite_file(engine.url)
    else:
        with engine.begin() as connection:
            _upgrade(connection)
    log.info("gallery schema is current (%s)", engine.dialect.name)


def _migrate_sqlite_file(sa_url: URL) -> None:
    """Migrate a SQLite file inside one `BEGIN IMMEDIATE` transaction.

    Python's sqlite3 module (3.11) opens transactions lazily and never around DDL, so a separate,
    short-lived engine takes over transaction control (SQLAlchemy's documented pysqlite recipe):
    the immediate write lock makes a second migrator wait (busy timeout) rather than fail.
    """
    engine = sa.create_engine(sa_url, connect_args=_sqlite_connect_args(), poolclass=NullPool)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, record: Any) -> None:
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves
        _sqlite_pragmas(dbapi_connection, record)

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    try:
        with engine.begin() as connection:
            _upgrade(connection)
    finally:
        engine.dispose()
