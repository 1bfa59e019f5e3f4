"""Saved characters (`/character save`, `-ref NAME`): the `character` table.

A member's (or, with a null owner, a server's) picture under a short name, unique per owner and
guild without regard to case through the non-null `scope` column.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "character",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("owner_id", sa.String(64), nullable=True),
        sa.Column("guild_id", sa.BigInteger(), nullable=True),
        sa.Column("name", sa.String(32), nullable=False),
        sa.Column("scope", sa.String(200), nullable=False),
        sa.Column("picture", sa.String(200), nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_character")),
        sa.UniqueConstraint("scope", name=op.f("uq_character_scope")),
    )
    with op.batch_alter_table("character", schema=None) as batch_op:
        batch_op.create_index("ix_character_guild_owner", ["guild_id", "owner_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("character", schema=None) as batch_op:
        batch_op.drop_index("ix_character_guild_owner")
    op.drop_table("character")
