"""The webhook relay's poll reads only API clips whose events are not all written.

A partial index over `api_clip` rows whose last event is not a final one, so the poll every
half second costs the clips in flight, not every API clip ever made.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# As gallery.apitables.UNSETTLED_SQL at this revision.
UNSETTLED = "last_event NOT IN ('clip.succeeded', 'clip.failed', 'clip.cancelled')"


def upgrade() -> None:
    where = sa.text(UNSETTLED)
    op.create_index(
        "ix_api_clip_unsettled",
        "api_clip",
        ["generation_id"],
        sqlite_where=where,
        postgresql_where=where,
    )


def downgrade() -> None:
    op.drop_index("ix_api_clip_unsettled", "api_clip")
