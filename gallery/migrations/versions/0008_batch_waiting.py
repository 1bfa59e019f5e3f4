"""The batch feeder reads only the batch items still open (waiting, or being submitted).

A partial index over `api_batch_item` rows in those states, so the feeder's look for members
with items to claim (once a second in each API process) costs the open items, not every item
of every batch ever made.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# As gallery.apitables.OPEN_ITEMS_SQL at this revision.
OPEN_ITEMS = "state IN ('waiting', 'submitting')"


def upgrade() -> None:
    where = sa.text(OPEN_ITEMS)
    op.create_index(
        "ix_api_batch_item_open",
        "api_batch_item",
        ["batch_id", "state", "updated_at"],
        sqlite_where=where,
        postgresql_where=where,
    )


def downgrade() -> None:
    op.drop_index("ix_api_batch_item_open", "api_batch_item")
