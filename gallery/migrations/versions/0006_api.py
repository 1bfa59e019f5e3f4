"""The REST API: tokens, clips asked through it, idempotency keys, batches, webhooks.

- `api_token`: a member's token (only the SHA-256 of its secret), scopes, guild, revocation.
- `api_clip`: a generation asked through the API, its token, batch, webhook URL, and the last
  lifecycle event written to the outbox.
- `api_idempotency`: an Idempotency-Key per token, the hash of its body and what it made.
- `api_batch`, `api_batch_item`: up to 100 clips asked at once, each waiting for its place.
- `webhook_endpoint`, `webhook_delivery`: a token's endpoints and the durable outbox, with a
  partial index over the rows still to deliver.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "api_batch",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("token_id", sa.String(16), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("webhook_url", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_batch")),
    )
    with op.batch_alter_table("api_batch", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_api_batch_token_id"), ["token_id"], unique=False)

    op.create_table(
        "api_idempotency",
        sa.Column("token_id", sa.String(16), nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("body_hash", sa.String(64), nullable=False),
        sa.Column("resource", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("token_id", "key", name=op.f("pk_api_idempotency")),
    )
    with op.batch_alter_table("api_idempotency", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_api_idempotency_created_at"), ["created_at"], unique=False
        )

    op.create_table(
        "api_token",
        sa.Column("id", sa.String(16), nullable=False),
        sa.Column("member_id", sa.String(64), nullable=False),
        sa.Column("guild_id", sa.BigInteger(), nullable=True),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("scopes", sa.String(200), nullable=False),
        sa.Column("secret_hash", sa.String(64), nullable=False),
        sa.Column("webhook_secret", sa.String(64), nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_by", sa.String(64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_token")),
    )
    with op.batch_alter_table("api_token", schema=None) as batch_op:
        batch_op.create_index(
            "ix_api_token_member_created", ["member_id", "created_at"], unique=False
        )

    op.create_table(
        "webhook_delivery",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("generation_id", sa.String(32), nullable=False),
        sa.Column("token_id", sa.String(16), nullable=False),
        sa.Column("target", sa.String(32), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("event", sa.String(32), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("given_up_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_delivery")),
        sa.UniqueConstraint(
            "generation_id",
            "target",
            "event",
            name=op.f("uq_webhook_delivery_generation_id_target_event"),
        ),
    )
    with op.batch_alter_table("webhook_delivery", schema=None) as batch_op:
        batch_op.create_index(
            "ix_webhook_delivery_due",
            ["next_attempt_at"],
            unique=False,
            sqlite_where=sa.text("delivered_at IS NULL AND given_up_at IS NULL"),
            postgresql_where=sa.text("delivered_at IS NULL AND given_up_at IS NULL"),
        )
        batch_op.create_index(
            batch_op.f("ix_webhook_delivery_generation_id"), ["generation_id"], unique=False
        )

    op.create_table(
        "webhook_endpoint",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("token_id", sa.String(16), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("secret", sa.String(64), nullable=False),
        sa.Column("events", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("failing_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("disabled_reason", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_endpoint")),
    )
    with op.batch_alter_table("webhook_endpoint", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_webhook_endpoint_token_id"), ["token_id"], unique=False
        )

    op.create_table(
        "api_batch_item",
        sa.Column("batch_id", sa.String(32), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column(
            "request", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False
        ),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("generation_id", sa.String(32), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["batch_id"],
            ["api_batch.id"],
            name=op.f("fk_api_batch_item_batch_id_api_batch"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("batch_id", "position", name=op.f("pk_api_batch_item")),
    )
    op.create_table(
        "api_clip",
        sa.Column("generation_id", sa.String(32), nullable=False),
        sa.Column("token_id", sa.String(16), nullable=False),
        sa.Column("batch_id", sa.String(32), nullable=True),
        sa.Column("webhook_url", sa.Text(), nullable=True),
        sa.Column("last_event", sa.String(32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["generation_id"],
            ["generation.id"],
            name=op.f("fk_api_clip_generation_id_generation"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("generation_id", name=op.f("pk_api_clip")),
    )
    with op.batch_alter_table("api_clip", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_api_clip_batch_id"), ["batch_id"], unique=False)
        batch_op.create_index("ix_api_clip_token_created", ["token_id", "created_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("api_clip", schema=None) as batch_op:
        batch_op.drop_index("ix_api_clip_token_created")
        batch_op.drop_index(batch_op.f("ix_api_clip_batch_id"))

    op.drop_table("api_clip")
    op.drop_table("api_batch_item")
    with op.batch_alter_table("webhook_endpoint", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_webhook_endpoint_token_id"))

    op.drop_table("webhook_endpoint")
    with op.batch_alter_table("webhook_delivery", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_webhook_delivery_generation_id"))
        batch_op.drop_index(
            "ix_webhook_delivery_due",
            sqlite_where=sa.text("delivered_at IS NULL AND given_up_at IS NULL"),
            postgresql_where=sa.text("delivered_at IS NULL AND given_up_at IS NULL"),
        )

    op.drop_table("webhook_delivery")
    with op.batch_alter_table("api_token", schema=None) as batch_op:
        batch_op.drop_index("ix_api_token_member_created")

    op.drop_table("api_token")
    with op.batch_alter_table("api_idempotency", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_idempotency_created_at"))

    op.drop_table("api_idempotency")
    with op.batch_alter_table("api_batch", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_batch_token_id"))

    op.drop_table("api_batch")
