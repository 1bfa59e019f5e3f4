"""Real databases for the gallery tests: a SQLite file and a fresh PostgreSQL database per test.

PostgreSQL is part of the supported matrix, so an unreachable server fails the run with a clear
message instead of quietly skipping half the tests (set REELBOT_TEST_SKIP_POSTGRES=1 to skip).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.pool import NullPool

from gallery.db import make_engine, migrate
from gallery.media import LocalMediaStore
from gallery.store import GalleryStore
from tests.gallery.sites import Site, open_site

PG_HOST = os.environ.get("REELBOT_TEST_PG_HOST", "127.0.0.1:5432")
PG_USERS = ("postgres", "root")


def _pg_admin_url() -> str:
    """A URL to the `test` database as the first user that can log in; fails loudly if none."""
    errors = []
    for user in PG_USERS:
        url = f"postgresql+psycopg://{user}@{PG_HOST}/test"
        engine = sa.create_engine(url, poolclass=NullPool, connect_args={"connect_timeout": 5})
        try:
            with engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
            return url
        except sa.exc.OperationalError as exc:
            errors.append(f"{user}: {str(exc).splitlines()[0]}")
        finally:
            engine.dispose()
    message = (
        f"PostgreSQL at {PG_HOST} (database 'test', users {', '.join(PG_USERS)}) is not "
        f"reachable: {'; '.join(errors)}. Start it, or set REELBOT_TEST_SKIP_POSTGRES=1."
    )
    if os.environ.get("REELBOT_TEST_SKIP_POSTGRES") == "1":
        pytest.skip(message)
    pytest.fail(message, pytrace=False)


@pytest.fixture(scope="session")
def pg_admin_url() -> str:
    return _pg_admin_url()


@pytest.fixture
def pg_database_url(pg_admin_url: str) -> Iterator[str]:
    """A brand-new, empty PostgreSQL database for one test, dropped afterwards."""
    name = f"reelbot_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(pg_admin_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield pg_admin_url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each store test runs on both supported databases, schema-less until migrated."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'data' / 'reelbot.db'}"
    url: str = request.getfixturevalue("pg_database_url")
    return url


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """An engine on a freshly migrated database."""
    engine = make_engine(database_url)
    migrate(engine)
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.fixture
def store(engine: Engine) -> GalleryStore:
    return GalleryStore(engine)


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[GalleryStore]:
    """A SQLite-backed store, for the web tests (the store tests cover PostgreSQL)."""
    engine = make_engine(f"sqlite:///{tmp_path / 'web' / 'reelbot.db'}")
    migrate(engine)
    try:
        yield GalleryStore(engine)
    finally:
        engine.dispose()


@pytest.fixture
def media(tmp_path: Path) -> LocalMediaStore:
    return LocalMediaStore(tmp_path / "media")


@pytest.fixture
async def site(sqlite_store: GalleryStore, media: LocalMediaStore) -> AsyncIterator[Site]:
    """The gallery on SQLite with the admin view on (TOKEN), behind a real HTTP client."""
    async with open_site(sqlite_store, media) as opened:
        yield opened
