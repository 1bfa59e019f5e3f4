"""Alembic environment for the gallery schema.

`gallery.db.migrate` passes an open connection in `config.attributes["connection"]` (already
inside a locked transaction). From the alembic command line (`alembic -c gallery/alembic.ini …`)
the URL comes from `-x url=…`, else from `REELBOT_` settings, as the processes themselves read it.
"""

from __future__ import annotations

from logging.config import fileConfig

from alembic import context
from sqlmodel import SQLModel

from gallery import apitables, chartables, models  # noqa: F401  (registers the tables)
from gallery.db import include_object, make_engine
from gallery.settings import GallerySettings

config = context.config
target_metadata = SQLModel.metadata


def _configure(connection: object) -> None:
    context.configure(
        connection=connection,  # type: ignore[arg-type]
        target_metadata=target_metadata,
        render_as_batch=True,  # SQLite can only ALTER through table copies
        compare_type=True,
        include_object=include_object,
    )


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
        return

    if config.config_file_name is not None:
        fileConfig(config.config_file_name, disable_existing_loggers=False)
    url = context.get_x_argument(as_dictionary=True).get("url")
    engine = make_engine(url or GallerySettings().resolved_database_url())
    try:
        with engine.connect() as conn:
            _configure(conn)
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline (--sql) migrations are not supported; pass a database URL")
run_migrations_online()
