"""The gallery's tables: one row per member and one per generation request.

The generation table is the system of record for every request, queued or finished; Redis only
carries work in flight. A generation keeps the whole job contract as a JSON dict (`spec`) plus
the few fields the gallery filters, sorts or shows, copied out into columns.

Layering follows the sqlmodel tutorial: `GenerationBase` holds what a producer supplies,
`Generation` is the table, `GenerationCreate` is what the bot or the CLI hands to the store and
`GenerationPublic` is what the JSON API shows (no worker names, errors or Discord ids).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from pydantic import field_validator
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlmodel import Field, SQLModel

from core.ids import is_generation_id

# Deterministic constraint names, so later migrations (and SQLite batch mode) can refer to them.
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# A platform prefix and the platform's own id: "discord:1234", "cli:alice".
MEMBER_ID = re.compile(r"[a-z][a-z0-9_-]{0,15}:\S{1,47}")


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(sa.TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend.

    PostgreSQL keeps the zone; SQLite stores text without one and hands back naive values. This
    stores UTC everywhere and always returns aware UTC datetimes, so keyset cursors built from a
    row compare the same way on both databases.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: the gallery stores aware UTC times")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


# JSONB on PostgreSQL (indexable later), JSON text elsewhere.
JSONType = sa.JSON().with_variant(JSONB(), "postgresql")


class GenerationStatus(enum.StrEnum):
    QUEUED = "queued"
    RENDERING = "rendering"
    DONE = "done"
    FAILED = "failed"


UNFINISHED = (GenerationStatus.QUEUED, GenerationStatus.RENDERING)


class Moderation(enum.StrEnum):
    """Where a clip stands with the moderators; only "ok" clips are public."""

    OK = "ok"
    HELD = "held"  # waiting for a moderator
    HIDDEN = "hidden"  # hidden by reports or by a moderator
    REMOVED = "removed"


# What "public" means, written once as SQL so that the partial indexes below and every query
# that must use them say it in the same words (SQLite only uses a partial index when the query
# repeats the index's terms; bound parameters would not match). Literals only, no user input.
PUBLIC_SQL = "status = 'done' AND NOT hidden AND deleted_at IS NULL AND moderation = 'ok'"


# Partial indexes for the few rows the bot, the reconciler and the moderators look for, so that
# none of them can look like a shortcut for a public page (without statistics, SQLite would
# otherwise read `status = 'done'` through an index on status and sort the whole table).
UNFINISHED_SQL = "status IN ('queued', 'rendering')"
MODERATED_SQL = "moderation <> 'ok'"
PURGED_SQL = "purged_at IS NOT NULL"


def partial_index(name: str, where: str, *columns: str) -> sa.Index:
    clause = sa.text(where)
    return sa.Index(name, *columns, sqlite_where=clause, postgresql_where=clause)


def public_index(name: str, *columns: str) -> sa.Index:
    """An index over public clips only: smaller, and every public page reads one range of it."""
    return partial_index(name, PUBLIC_SQL, *columns)


# A VARCHAR with a CHECK rather than a PostgreSQL ENUM type, so adding a status later is a plain
# constraint change instead of an ALTER TYPE that cannot run inside a transaction.
StatusType = sa.Enum(
    GenerationStatus,
    name="status",
    native_enum=False,
    create_constraint=True,
    length=16,
    values_callable=lambda enum_cls: [member.value for member in enum_cls],
)
ModerationType = sa.Enum(
    Moderation,
    name="moderation",
    native_enum=False,
    create_constraint=True,
    length=16,
    values_callable=lambda enum_cls: [member.value for member in enum_cls],
)


class Member(SQLModel, table=True):
    """Someone who asked for clips, on any front end (the prefix names the platform)."""

    id: str = Field(primary_key=True, max_length=64)
    display_name: str = Field(default="", max_length=100)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    # Flags the member wants on every request (`/settings`), e.g. "-ar 9:16 -motion 2".
    default_flags: str = Field(default="", max_length=300)


class GenerationBase(SQLModel):
    """What a producer knows when it asks for a clip."""

    id: str = Field(primary_key=True, max_length=32)
    owner_id: str = Field(foreign_key="member.id", max_length=64)
    prompt: str = Field(sa_type=sa.Text, nullable=False)
    negative_prompt: str = Field(default="", sa_type=sa.Text, nullable=False)
    spec: dict[str, Any] = Field(default_factory=dict, sa_type=JSONType, nullable=False)
    backend: str = Field(default="", max_length=32)
    # Seeds go up to 2**32 - 1, past a 32-bit INTEGER.
    seed: int = Field(ge=0, sa_type=sa.BigInteger, nullable=False)
    width: int = Field(gt=0)
    height: int = Field(gt=0)
    num_frames: int = Field(gt=0)
    fps: int = Field(gt=0)
    aspect_ratio: str = Field(default="", max_length=16)
    camera: str | None = Field(default=None, max_length=32)
    motion: int = Field(default=1, ge=0)
    hidden: bool = False
    parent_id: str | None = Field(
        default=None,
        foreign_key="generation.id",
        ondelete="SET NULL",
        max_length=32,
    )
    guild_id: int | None = Field(default=None, sa_type=sa.BigInteger)
    channel_id: int | None = Field(default=None, sa_type=sa.BigInteger)


class Generation(GenerationBase, table=True):
    """One request and, once rendered, its clip. Never deleted by the render path."""

    __table_args__ = (
        # Public pages, each one keyset range of a partial index (see PUBLIC_SQL):
        # New (and Top over a day or a week: a short finished_at range, then sorted by likes),
        public_index("ix_generation_public_new", "finished_at", "id"),
        # Top of all time, Trending, and a member's page (likes summed from the index alone).
        public_index("ix_generation_public_top", "like_count", "finished_at", "id"),
        public_index("ix_generation_public_hot", "hot_score", "id"),
        public_index("ix_generation_public_owner", "owner_id", "finished_at", "id", "like_count"),
        # The moderators' lists.
        partial_index("ix_generation_moderation", MODERATED_SQL, "moderation", "created_at"),
        # Clips a purge hid, for the sweep that deletes them after the grace period.
        partial_index("ix_generation_purged", PURGED_SQL, "purged_at"),
        # The reconciler: queued / rendering rows, oldest first.
        partial_index("ix_generation_status_created", UNFINISHED_SQL, "status", "created_at"),
        sa.Index("ix_generation_owner_created", "owner_id", "created_at"),
        sa.Index("ix_generation_parent", "parent_id"),
        # Reactions and buttons arrive with a message id.
        sa.Index("ix_generation_discord_message", "discord_message_id"),
    )

    status: GenerationStatus = Field(
        default=GenerationStatus.QUEUED, sa_type=StatusType, nullable=False
    )
    attempts: int = 0
    worker: str = Field(default="", max_length=128)
    error: str | None = Field(default=None, sa_type=sa.Text)
    # Relative to the media root, e.g. "ab/ab12….mp4"; see `LocalMediaStore`.
    media_path: str | None = Field(default=None, max_length=255)
    size_bytes: int | None = Field(default=None, sa_type=sa.BigInteger)
    # Stage name -> seconds ("load", "render", "encode", ...).
    timings: dict[str, float] = Field(default_factory=dict, sa_type=JSONType, nullable=False)
    discord_message_id: int | None = Field(default=None, sa_type=sa.BigInteger)
    like_count: int = Field(default=0, ge=0)
    # Trending order, a fixed function of likes and finish time (`gallery.paging.hot_score`),
    # so it never needs recomputing: set when the clip is done and whenever its likes change.
    hot_score: float | None = Field(default=None, sa_type=sa.Float)
    moderation: Moderation = Field(
        default=Moderation.OK,
        sa_type=ModerationType,
        nullable=False,
        sa_column_kwargs={"server_default": Moderation.OK.value},
    )
    # Set when the owner or a moderator deletes the clip; it then never appears anywhere public.
    deleted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # Set when a purge hid the clip, cleared when a moderator shows it again: a clip still
    # hidden a grace period later is deleted, files and all (`gallery.deletion`).
    purged_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    started_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)

    @property
    def duration_s(self) -> float:
        return self.num_frames / self.fps

    @property
    def is_public(self) -> bool:
        """Whether anyone may see it: rendered, not hidden, not deleted, not held by moderators.

        Must say what PUBLIC_SQL says.
        """
        return (
            self.status == GenerationStatus.DONE
            and not self.hidden
            and self.deleted_at is None
            and self.moderation == Moderation.OK
        )


class Like(SQLModel, table=True):
    """One member's ❤️ on one clip; the pair is the key, so liking twice counts once."""

    generation_id: str = Field(
        primary_key=True, foreign_key="generation.id", ondelete="CASCADE", max_length=32
    )
    member_id: str = Field(primary_key=True, foreign_key="member.id", max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


# The spec keys copied into columns by `GenerationCreate.from_spec` (the job contract's names).
_SPEC_COLUMNS = (
    "prompt",
    "negative_prompt",
    "backend",
    "seed",
    "width",
    "height",
    "num_frames",
    "fps",
    "aspect_ratio",
    "camera",
    "motion",
    "hidden",
    "parent_id",
    "owner_id",
    "guild_id",
    "channel_id",
)


class GenerationCreate(GenerationBase):
    """What the bot or the CLI hands to `GalleryStore.add_generation`; validated on creation."""

    owner_name: str = Field(default="", max_length=100)

    @field_validator("id", "parent_id")
    @classmethod
    def _generation_id(cls, value: str | None) -> str | None:
        if value is not None and not is_generation_id(value):
            raise ValueError(f"{value!r} is not a generation id (32 lowercase hex characters)")
        return value

    @field_validator("owner_id")
    @classmethod
    def _member_id(cls, value: str) -> str:
        if not MEMBER_ID.fullmatch(value):
            raise ValueError(f"{value!r} is not a member id like 'discord:1234' or 'cli:alice'")
        return value

    @classmethod
    def from_spec(
        cls, generation_id: str, spec: Mapping[str, Any], *, owner_name: str | None = None
    ) -> GenerationCreate:
        """Build from a job spec dumped as JSON (`RenderSpec.model_dump(mode="json")`).

        The gallery does not import the job contract; it reads the keys by name and keeps the
        whole dict, so a newer spec field is stored even before the gallery learns about it.
        """
        values: dict[str, Any] = {key: spec[key] for key in _SPEC_COLUMNS if key in spec}
        name = owner_name if owner_name is not None else spec.get("owner_name", "")
        return cls.model_validate(
            {**values, "id": generation_id, "spec": dict(spec), "owner_name": name or ""}
        )


class GenerationPublic(SQLModel):
    """A clip as the public JSON API shows it: no worker, error, spec or Discord ids.

    The owner's member id is shown: it names their public member page.
    """

    id: str
    prompt: str
    negative_prompt: str
    backend: str
    seed: int
    width: int
    height: int
    num_frames: int
    fps: int
    aspect_ratio: str
    camera: str | None
    motion: int
    parent_id: str | None
    size_bytes: int | None
    created_at: datetime
    finished_at: datetime | None
    like_count: int = 0
    owner_id: str = ""
    owner_name: str = ""
    page_url: str = ""
    media_url: str = ""
    poster_url: str = ""
    preview_url: str = ""
    member_url: str | None = None


# --- moderation (migration 0004) ----------------------------------------------------------------


class ModerationAction(SQLModel, table=True):
    """One audit row per moderation action: who did what to whom or which clip, when and why.

    Member ids are kept as written ("discord:123"; "system" for the report threshold), without
    foreign keys: the audit log outlives the rows it talks about.
    """

    __tablename__ = "moderation_action"
    __table_args__ = (
        sa.Index("ix_moderation_action_guild_created", "guild_id", "created_at"),
        sa.Index("ix_moderation_action_member_created", "target_member_id", "created_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    guild_id: int | None = Field(default=None, sa_type=sa.BigInteger)
    moderator_id: str = Field(max_length=64)
    action: str = Field(max_length=32)
    target_member_id: str | None = Field(default=None, max_length=64)
    target_generation_id: str | None = Field(default=None, max_length=32)
    reason: str = Field(default="", sa_type=sa.Text, nullable=False)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class Report(SQLModel, table=True):
    """One member's 🚩 on one clip; the pair is the key, so reporting twice counts once.
    `dismissed_at` is set when a moderator restores the clip: those reports no longer count."""

    generation_id: str = Field(
        primary_key=True, foreign_key="generation.id", ondelete="CASCADE", max_length=32
    )
    reporter_id: str = Field(primary_key=True, max_length=64)
    reason: str = Field(default="", sa_type=sa.Text, nullable=False)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    dismissed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class Ban(SQLModel, table=True):
    """A member who may not ask for clips in a guild until `until` (None: until unbanned)."""

    member_id: str = Field(primary_key=True, max_length=64)
    guild_id: int = Field(primary_key=True, sa_type=sa.BigInteger)
    reason: str = Field(default="", sa_type=sa.Text, nullable=False)
    until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_by: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
