"""The REST API's tables (migration 0006): tokens, clips asked through the API, idempotency
keys, batches, webhook endpoints and the webhook outbox.

They live beside `gallery.models` rather than in it: the API is one front end of several, and
its rows point at generations, never the other way round. Ids of members are kept as written
("discord:123") without foreign keys, as the moderation audit log does.

A token is shown once as `rb_<id>_<secret>`; only the SHA-256 of the secret is stored, so a
leaked database does not leak working tokens. The webhook signing secrets (`whsec_…`) are
stored as they are: signing needs them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from gallery.models import JSONType, UTCDateTime, partial_index, utcnow

# What an outbox row still waiting to be delivered looks like (literals only, no user input).
UNDELIVERED_SQL = "delivered_at IS NULL AND given_up_at IS NULL"
# An API clip whose webhook events may not all be written yet: the relay's poll reads only
# these, through a partial index (migration 0007), however many API clips have finished.
UNSETTLED_SQL = "last_event NOT IN ('clip.succeeded', 'clip.failed', 'clip.cancelled')"
# A batch item someone may still claim: the batch feeder reads only these, through a partial
# index (migration 0008), however many items batches have ever had.
OPEN_ITEMS_SQL = "state IN ('waiting', 'submitting')"


class ApiToken(SQLModel, table=True):
    """A member's key to the REST API: which member it speaks for, in which guild, with which
    scopes. Revoked tokens stay (the audit log and lists name them); `revoked_at` ends them."""

    __tablename__ = "api_token"
    __table_args__ = (sa.Index("ix_api_token_member_created", "member_id", "created_at"),)

    id: str = Field(primary_key=True, max_length=16)
    member_id: str = Field(max_length=64)
    guild_id: int | None = Field(default=None, sa_type=sa.BigInteger)
    name: str = Field(max_length=64)
    scopes: str = Field(default="", max_length=200)  # space-separated, e.g. "clips:read"
    secret_hash: str = Field(max_length=64)  # hex SHA-256 of the secret part
    webhook_secret: str = Field(max_length=64)  # whsec_…: signs per-request webhook_url calls
    created_by: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    last_used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    revoked_by: str | None = Field(default=None, max_length=64)


class ApiClip(SQLModel, table=True):
    """A generation asked for through the API: the token that asked, its batch, where its
    webhooks go, and the last lifecycle event written to the outbox (so the relay that turns
    row changes into events writes each once, in order)."""

    __tablename__ = "api_clip"
    __table_args__ = (
        sa.Index("ix_api_clip_token_created", "token_id", "created_at"),
        partial_index("ix_api_clip_unsettled", UNSETTLED_SQL, "generation_id"),
    )

    generation_id: str = Field(
        primary_key=True, foreign_key="generation.id", ondelete="CASCADE", max_length=32
    )
    token_id: str = Field(max_length=16)
    batch_id: str | None = Field(default=None, max_length=32, index=True)
    webhook_url: str | None = Field(default=None, sa_type=sa.Text)
    last_event: str = Field(default="", max_length=32)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class ApiIdempotency(SQLModel, table=True):
    """An `Idempotency-Key` a token used: the body it came with (a hash) and what it made.
    `resource` is empty while the first request with the key is still being answered."""

    __tablename__ = "api_idempotency"

    token_id: str = Field(primary_key=True, max_length=16)
    key: str = Field(primary_key=True, max_length=255)
    body_hash: str = Field(max_length=64)
    resource: str = Field(default="", max_length=64)  # "clip:<id>" or "batch:<id>"
    created_at: datetime = Field(
        default_factory=utcnow, sa_type=UTCDateTime, nullable=False, index=True
    )


class ApiBatch(SQLModel, table=True):
    """Up to 100 clips asked in one call; each item is admitted under its member's caps in
    turn (`ApiBatchItem`), so a batch never jumps other members."""

    __tablename__ = "api_batch"

    id: str = Field(primary_key=True, max_length=32)
    token_id: str = Field(max_length=16, index=True)
    size: int = Field(ge=1)
    webhook_url: str | None = Field(default=None, sa_type=sa.Text)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class ApiBatchItem(SQLModel, table=True):
    """One clip of a batch: its request as read (`request`), waiting for a place under the
    member's caps, then the generation it became (`generation_id`) or why not (`error`)."""

    __tablename__ = "api_batch_item"
    __table_args__ = (
        partial_index("ix_api_batch_item_open", OPEN_ITEMS_SQL, "batch_id", "state", "updated_at"),
    )

    batch_id: str = Field(
        primary_key=True, foreign_key="api_batch.id", ondelete="CASCADE", max_length=32
    )
    position: int = Field(primary_key=True, ge=0)
    request: dict[str, Any] = Field(default_factory=dict, sa_type=JSONType, nullable=False)
    state: str = Field(default="waiting", max_length=16)  # waiting | submitted | refused
    generation_id: str | None = Field(default=None, max_length=32)
    error: str | None = Field(default=None, sa_type=sa.Text)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class WebhookEndpoint(SQLModel, table=True):
    """A URL a token's clips' events are sent to, signed with its own `whsec_` secret.
    `failing_since` marks the first failure of the current run; a day of it disables it."""

    __tablename__ = "webhook_endpoint"

    id: str = Field(primary_key=True, max_length=32)
    token_id: str = Field(max_length=16, index=True)
    url: str = Field(sa_type=sa.Text)
    secret: str = Field(max_length=64)
    events: str = Field(default="", max_length=200)  # space-separated; empty: every event
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    failing_since: datetime | None = Field(default=None, sa_type=UTCDateTime)
    disabled_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    disabled_reason: str = Field(default="", sa_type=sa.Text, nullable=False)


class WebhookDelivery(SQLModel, table=True):
    """The durable outbox: one event for one target, sent until it is answered with 2xx or
    given up. `id` is the `webhook-id` receivers dedupe by; `seq` orders a clip's events, and
    a clip's next event waits for the one before it. `target` is the endpoint's id, or
    "request" for the clip's own `webhook_url`; the unique key makes writing an event twice
    (a relay retried after a crash) a no-op."""

    __tablename__ = "webhook_delivery"
    __table_args__ = (
        sa.UniqueConstraint("generation_id", "target", "event"),
        partial_index("ix_webhook_delivery_due", UNDELIVERED_SQL, "next_attempt_at"),
    )

    id: str = Field(primary_key=True, max_length=40)
    generation_id: str = Field(max_length=32, index=True)
    token_id: str = Field(max_length=16)
    target: str = Field(max_length=32)
    url: str = Field(sa_type=sa.Text)
    event: str = Field(max_length=32)
    seq: int = Field(ge=0)
    payload: str = Field(sa_type=sa.Text)
    attempts: int = Field(default=0, ge=0)
    next_attempt_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    locked_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    delivered_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    given_up_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_error: str | None = Field(default=None, sa_type=sa.Text)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
