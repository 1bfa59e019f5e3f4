"""Gallery: moderation state, trending score, partial indexes for every public page, search.

- `generation.moderation` ("ok", "held", "hidden", "removed"; only "ok" is public) and
  `generation.hot_score` (trending order; backfilled here for clips already done).
- The old `ix_generation_feed` gives way to partial indexes over public clips only, one per page
  order (new, top, trending, member); the indexes on status and on moderation become partial
  (unfinished rows, moderated rows) so that no planner takes them for a public page.
- Full-text search over prompts: on PostgreSQL a GIN index on `to_tsvector('english', prompt)`;
  on SQLite an FTS5 table `generation_fts` (porter stemming, like 'english') kept in step by
  triggers. A later batch migration that recreates `generation` on SQLite drops those triggers
  with the old table and must call `create_sqlite_search(…, backfill=False)` again.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STATES = ("ok", "held", "hidden", "removed")
# As gallery.models.PUBLIC_SQL at this revision (written out: a migration keeps its meaning).
PUBLIC = "status = 'done' AND NOT hidden AND deleted_at IS NULL AND moderation = 'ok'"
# As gallery.paging at this revision.
HOT_EPOCH = datetime(2025, 1, 1, tzinfo=UTC)
HOT_HALF_LIFE_S = 45_000.0

PUBLIC_INDEXES = {
    "ix_generation_public_new": ["finished_at", "id"],
    "ix_generation_public_top": ["like_count", "finished_at", "id"],
    "ix_generation_public_hot": ["hot_score", "id"],
    "ix_generation_public_owner": ["owner_id", "finished_at", "id", "like_count"],
}

SQLITE_SEARCH = [
    "CREATE VIRTUAL TABLE generation_fts USING fts5("
    "id UNINDEXED, prompt, tokenize = 'porter unicode61')",
    "CREATE TRIGGER generation_fts_insert AFTER INSERT ON generation BEGIN "
    "INSERT INTO generation_fts (id, prompt) VALUES (new.id, new.prompt); END",
    "CREATE TRIGGER generation_fts_update AFTER UPDATE OF prompt ON generation BEGIN "
    "DELETE FROM generation_fts WHERE id = old.id; "
    "INSERT INTO generation_fts (id, prompt) VALUES (new.id, new.prompt); END",
    # Rows are soft-deleted (deleted_at); a hard delete is rare, so its scan here is fine.
    "CREATE TRIGGER generation_fts_delete AFTER DELETE ON generation BEGIN "
    "DELETE FROM generation_fts WHERE id = old.id; END",
]
PG_SEARCH = (
    "CREATE INDEX ix_generation_search ON generation "
    f"USING gin (to_tsvector('english', prompt)) WHERE {PUBLIC}"
)


def _hot(likes: int, finished_at: datetime) -> float:
    if finished_at.tzinfo is None:
        finished_at = finished_at.replace(tzinfo=UTC)
    age = (finished_at - HOT_EPOCH).total_seconds()
    return math.log10(1 + likes) + age / HOT_HALF_LIFE_S


def create_sqlite_search(backfill: bool = True) -> None:
    for statement in SQLITE_SEARCH:
        op.execute(statement)
    if backfill:
        op.execute("INSERT INTO generation_fts (id, prompt) SELECT id, prompt FROM generation")


def _backfill_hot_scores() -> None:
    bind = op.get_bind()
    generation = sa.table(
        "generation",
        sa.column("id", sa.String),
        sa.column("like_count", sa.Integer),
        sa.column("finished_at", sa.DateTime(timezone=True)),
        sa.column("status", sa.String),
        sa.column("hot_score", sa.Float),
    )
    rows = bind.execute(
        sa.select(generation.c.id, generation.c.like_count, generation.c.finished_at).where(
            generation.c.status == "done", generation.c.finished_at.is_not(None)
        )
    ).all()
    update = (
        sa.update(generation)
        .where(generation.c.id == sa.bindparam("gid"))
        .values(hot_score=sa.bindparam("score"))
    )
    for start in range(0, len(rows), 1000):
        chunk = rows[start : start + 1000]
        bind.execute(
            update, [{"gid": r.id, "score": _hot(r.like_count, r.finished_at)} for r in chunk]
        )


def upgrade() -> None:
    with op.batch_alter_table("generation") as batch:
        batch.add_column(
            sa.Column("moderation", sa.String(16), nullable=False, server_default="ok")
        )
        batch.add_column(sa.Column("hot_score", sa.Float(), nullable=True))
        batch.create_check_constraint(
            "moderation", "moderation IN ({})".format(", ".join(f"'{s}'" for s in STATES))
        )
        batch.drop_index("ix_generation_feed")
    _backfill_hot_scores()
    where = sa.text(PUBLIC)
    for name, columns in PUBLIC_INDEXES.items():
        op.create_index(name, "generation", columns, sqlite_where=where, postgresql_where=where)
    moderated = sa.text("moderation <> 'ok'")
    op.create_index(
        "ix_generation_moderation",
        "generation",
        ["moderation", "created_at"],
        sqlite_where=moderated,
        postgresql_where=moderated,
    )
    # Only unfinished rows: an index on every status would be SQLite's pick for public pages.
    op.drop_index("ix_generation_status_created", "generation")
    unfinished = sa.text("status IN ('queued', 'rendering')")
    op.create_index(
        "ix_generation_status_created",
        "generation",
        ["status", "created_at"],
        sqlite_where=unfinished,
        postgresql_where=unfinished,
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(PG_SEARCH)
    else:
        create_sqlite_search()


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX ix_generation_search")
    else:
        for trigger in ("insert", "update", "delete"):
            op.execute(f"DROP TRIGGER generation_fts_{trigger}")
        op.execute("DROP TABLE generation_fts")
    op.drop_index("ix_generation_moderation", "generation")
    op.drop_index("ix_generation_status_created", "generation")
    op.create_index("ix_generation_status_created", "generation", ["status", "created_at"])
    for name in PUBLIC_INDEXES:
        op.drop_index(name, "generation")
    with op.batch_alter_table("generation") as batch:
        batch.drop_constraint(op.f("ck_generation_moderation"), type_="check")
        batch.drop_column("hot_score")
        batch.drop_column("moderation")
        batch.create_index("ix_generation_feed", ["status", "hidden", "finished_at", "id"])
