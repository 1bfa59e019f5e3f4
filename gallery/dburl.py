"""The database URL an operator wrote: checked before anything opens, named when it fails.

`make_engine` would raise SQLAlchemy's own errors (or a bare `int()` ValueError for a bad port)
from deep inside start-up; an entry point calls `check_database_url` first, and runs what
connects inside `reaching_database`, so a wrong or unreachable database is one line that names
REELBOT_DATABASE_URL, without its password.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from core.errors import ConfigError, UserFacingError
from core.redaction import redact_text, redact_url

SETTING = "REELBOT_DATABASE_URL"
SHAPE = "postgresql+psycopg://user:password@host:5432/reelbot, or sqlite:///path/reelbot.db"


def check_database_url(url: str) -> None:
    """ConfigError unless SQLAlchemy can read `url` and has its driver; connects to nothing."""
    try:
        parsed = make_url(url)
        if parsed.drivername in ("postgres", "postgresql"):
            parsed = parsed.set(drivername="postgresql+psycopg")  # as gallery.db opens it
    except (sa.exc.ArgumentError, ValueError):  # ValueError: a port that is no number
        raise ConfigError(f"{SETTING}: not a database URL; it should look like {SHAPE}") from None
    try:
        dialect = parsed.get_dialect()
    except sa.exc.NoSuchModuleError:
        raise ConfigError(
            f"{SETTING}: unknown database kind {parsed.drivername!r}; use postgresql or sqlite "
            f"({SHAPE})"
        ) from None
    try:
        dialect.import_dbapi()
    except ImportError as exc:
        raise ConfigError(
            f"{SETTING}: {parsed.drivername} needs the Python module {exc.name!r}, which is not "
            "installed; for PostgreSQL install reelbot[postgres]"
        ) from None


@contextlib.contextmanager
def database_checked(url: str) -> Iterator[None]:
    """`check_database_url`, then run the body inside `reaching_database`."""
    check_database_url(url)
    with reaching_database(url):
        yield


@contextlib.contextmanager
def reaching_database(url: str) -> Iterator[None]:
    """Inside: a database that refuses or can't be reached becomes one UserFacingError line."""
    try:
        yield
    except (sa.exc.OperationalError, sa.exc.InterfaceError) as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()
        first = redact_text(reason[0]) if reason else type(exc).__name__
        raise UserFacingError(
            f"can't use the database at {redact_url(url)} ({first}); start it, or fix "
            f"{SETTING} (its host, port, user and password)"
        ) from None
