"""Purges end in deletion: `generation.purged_at`.

A purge hides a member's clips and sets `purged_at`; a moderator showing one again clears it.
Clips still hidden a grace period later are deleted with their files
(`gallery.deletion.expire_purged`), found through a partial index over purged clips only.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# As gallery.models.PURGED_SQL at this revision.
PURGED = "purged_at IS NOT NULL"


def upgrade() -> None:
    op.add_column("generation", sa.Column("purged_at", sa.DateTime(timezone=True), nullable=True))
    where = sa.text(PURGED)
    op.create_index(
        "ix_generation_purged",
        "generation",
        ["purged_at"],
        sqlite_where=where,
        postgresql_where=where,
    )


def downgrade() -> None:
    op.drop_index("ix_generation_purged", "generation")
    # Not a batch operation: on SQLite that recreates the table and loses the search triggers.
    op.drop_column("generation", "purged_at")
