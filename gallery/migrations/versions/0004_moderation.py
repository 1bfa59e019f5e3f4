"""Moderation: the audit log, reports, bans.

- `moderation_action`: one row per moderation action (who, what, whom or which clip, why, when,
  until when); no foreign keys, so the log outlives what it talks about.
- `report`: one 🚩 per member per clip (the pair is the key); `dismissed_at` when a moderator
  restored the clip, so old reports stop counting.
- `ban`: one per member per guild, `until` NULL for a permanent ban.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "moderation_action",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("guild_id", sa.BigInteger(), nullable=True),
        sa.Column("moderator_id", sa.String(64), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("target_member_id", sa.String(64), nullable=True),
        sa.Column("target_generation_id", sa.String(32), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_moderation_action")),
    )
    op.create_index(
        "ix_moderation_action_guild_created", "moderation_action", ["guild_id", "created_at"]
    )
    op.create_index(
        "ix_moderation_action_member_created",
        "moderation_action",
        ["target_member_id", "created_at"],
    )
    op.create_table(
        "report",
        sa.Column("generation_id", sa.String(32), nullable=False),
        sa.Column("reporter_id", sa.String(64), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("dismissed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("generation_id", "reporter_id", name=op.f("pk_report")),
        sa.ForeignKeyConstraint(
            ["generation_id"],
            ["generation.id"],
            name=op.f("fk_report_generation_id_generation"),
            ondelete="CASCADE",
        ),
    )
    op.create_table(
        "ban",
        sa.Column("member_id", sa.String(64), nullable=False),
        sa.Column("guild_id", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("member_id", "guild_id", name=op.f("pk_ban")),
    )


def downgrade() -> None:
    op.drop_table("ban")
    op.drop_table("report")
    op.drop_index("ix_moderation_action_member_created", "moderation_action")
    op.drop_index("ix_moderation_action_guild_created", "moderation_action")
    op.drop_table("moderation_action")
