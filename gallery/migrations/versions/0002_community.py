"""Community: likes, deleted clips, per-member default flags, lookup by Discord message.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("member") as batch:
        batch.add_column(
            sa.Column("default_flags", sa.String(300), nullable=False, server_default="")
        )
    with op.batch_alter_table("generation") as batch:
        batch.add_column(sa.Column("like_count", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True))
        batch.create_index("ix_generation_discord_message", ["discord_message_id"])
    op.create_table(
        "like",
        sa.Column("generation_id", sa.String(32), nullable=False),
        sa.Column("member_id", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("generation_id", "member_id", name=op.f("pk_like")),
        sa.ForeignKeyConstraint(
            ["generation_id"],
            ["generation.id"],
            name=op.f("fk_like_generation_id_generation"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["member_id"], ["member.id"], name=op.f("fk_like_member_id_member")
        ),
    )


def downgrade() -> None:
    op.drop_table("like")
    with op.batch_alter_table("generation") as batch:
        batch.drop_index("ix_generation_discord_message")
        batch.drop_column("deleted_at")
        batch.drop_column("like_count")
    with op.batch_alter_table("member") as batch:
        batch.drop_column("default_flags")
