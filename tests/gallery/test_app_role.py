"""deploy/postgres-init.sh against a real PostgreSQL: the role the compose services connect as
can build and use the gallery's schema in its own database, and can do nothing beyond it."""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from gallery.db import make_engine, migrate
from gallery.models import GenerationCreate
from gallery.store import GalleryStore
from tests.harness.paths import ROOT

pytestmark = pytest.mark.timeout(120)
PG_INIT = ROOT / "deploy" / "postgres-init.sh"


@pytest.fixture
def app_role(pg_admin_url: str) -> Iterator[str]:
    """Run the init script as the image's entry point would; the app's URL. Dropped after."""
    admin = make_url(pg_admin_url)
    suffix = uuid.uuid4().hex[:10]
    user, db, password = f"reelbot_app_{suffix}", f"reelbot_db_{suffix}", f"pw'{suffix}\""
    env = {
        **os.environ,
        "PGHOST": admin.host or "127.0.0.1",
        "PGPORT": str(admin.port or 5432),
        "POSTGRES_USER": admin.username or "postgres",
        "POSTGRES_DB": admin.database or "test",
        "POSTGRES_APP_USER": user,
        "POSTGRES_APP_DB": db,
        "POSTGRES_APP_PASSWORD": password,
    }
    result = subprocess.run(
        [str(PG_INIT)], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    engine = sa.create_engine(pg_admin_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        assert result.returncode == 0, result.stderr
        yield str(admin.set(username=user, password=password, database=db))
    finally:
        with engine.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)'))
            conn.execute(sa.text(f'DROP ROLE IF EXISTS "{user}"'))
        engine.dispose()


def test_the_app_role_owns_its_gallery_and_nothing_more(app_role: str) -> None:
    engine = make_engine(app_role)
    try:
        migrate(engine)  # the schema, as every service builds it at start
        store = GalleryStore(engine)
        spec = {"prompt": "a fox", "seed": 1, "width": 64, "height": 64, "num_frames": 8}
        store.add_generation(
            GenerationCreate.from_spec("ab" * 16, {**spec, "fps": 8, "owner_id": "cli:alice"})
        )
        assert store.get("ab" * 16) is not None
        with engine.connect() as conn:
            role = conn.execute(
                sa.text(
                    "SELECT rolsuper, rolcreatedb, rolcreaterole, rolreplication, rolbypassrls "
                    "FROM pg_roles WHERE rolname = current_user"
                )
            ).one()
            assert tuple(role) == (False, False, False, False, False)
        for statement in ('CREATE DATABASE "elsewhere"', 'CREATE ROLE "another"'):
            with (
                engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn,
                pytest.raises(sa.exc.ProgrammingError, match="permission denied"),
            ):
                conn.execute(sa.text(statement))
    finally:
        engine.dispose()
