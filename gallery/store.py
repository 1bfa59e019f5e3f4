"""Reads and writes of the gallery database, each in its own short session.

Every state change is one conditional statement (`UPDATE … WHERE status <> 'done'`,
`INSERT … ON CONFLICT DO NOTHING`), so retried jobs, two workers racing on one generation and
a crash between steps all leave the row right without any locking in Python. Methods are
synchronous; async callers wrap them in `asyncio.to_thread`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from gallery.db import write_lock
from gallery.models import (
    PUBLIC_SQL,
    UNFINISHED_SQL,
    Generation,
    GenerationCreate,
    GenerationStatus,
    Member,
    Moderation,
    utcnow,
)
from gallery.paging import InvalidCursor, Key, Sort, decode, encode, hot_score

__all__ = [
    "MAX_PAGE_SIZE",
    "Cursor",
    "GalleryStore",
    "InvalidCursor",
    "decode_cursor",
    "encode_cursor",
    "public",
]

log = logging.getLogger(__name__)

MAX_PAGE_SIZE = 100
MAX_ERROR_CHARS = 4000

Cursor = tuple[datetime, str]


def public() -> sa.TextClause:
    """The WHERE clause of every public read, in the exact words of the partial indexes."""
    return sa.text(PUBLIC_SQL)


def encode_cursor(generation: Generation) -> str:
    """The opaque cursor for "clips older than this one": (finished_at, id), URL-safe."""
    key = Key(Sort.NEW, generation.id, finished_at=generation.finished_at)
    return encode(key)


def decode_cursor(cursor: str) -> Cursor:
    """Parse a cursor from `encode_cursor`; raise `InvalidCursor` for anything else."""
    key = decode(cursor, Sort.NEW)
    assert key.finished_at is not None
    return key.finished_at, key.generation_id


def _insert(dialect_name: str) -> Any:
    """The dialect's INSERT construct, which knows ON CONFLICT (both databases speak it)."""
    if dialect_name == "postgresql":
        return postgresql.insert
    if dialect_name == "sqlite":
        return sqlite.insert
    raise NotImplementedError(f"database {dialect_name!r} is not supported (SQLite, PostgreSQL)")


def new_row_defaults() -> dict[str, Any]:
    """A new generation row's own columns (status, likes, timings...) at their defaults.

    Building a `Generation` to get them costs a SQLAlchemy attribute event per column, most of
    what a burst's group commit cost, for values that never differ between new rows."""
    return {
        name: field.get_default(call_default_factory=True)
        for name, field in Generation.model_fields.items()
        if name not in GenerationCreate.model_fields
    }


class GalleryStore:
    """The gallery database, behind methods named for what the bot, worker and web need."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        insert = _insert(engine.dialect.name)
        # Built once with bound parameters: the statements compile once and are cached, where
        # `.values(<row>)` re-keyed ~30 literals per call (3.5 ms per request, bench/frontend.py).
        member = insert(Member)
        self._add_member = member.on_conflict_do_nothing(index_elements=["id"])
        self._upsert_member = member.on_conflict_do_update(
            index_elements=["id"],
            set_={"display_name": member.excluded.display_name},
            where=col(Member.display_name) != member.excluded.display_name,
        )
        # RETURNING says whether the row was new on both databases (rowcount does not always).
        self._add_generation = (
            insert(Generation)
            .on_conflict_do_nothing(index_elements=["id"])
            .returning(col(Generation.id))
        )
        self._parents_exist = sa.select(col(Generation.id)).where(
            col(Generation.id).in_(sa.bindparam("ids", expanding=True))
        )

    def _session(self) -> Session:
        # Rows returned to callers stay readable after the session closes.
        return Session(self.engine, expire_on_commit=False)

    def ping(self) -> None:
        """Raise if the database cannot answer a trivial query (the health check)."""
        with self._session() as session:
            session.exec(select(sa.literal(1))).one()

    def add_generation(self, new: GenerationCreate) -> bool:
        """Record a request (and its member); False if the id was already there.

        Enqueueing may be retried with the same generation id, so the insert is a no-op the
        second time rather than an error. The member's display name follows the latest request.
        """
        return self.add_generations([new])[0]

    def add_generations(self, rows: Sequence[GenerationCreate]) -> list[bool]:
        """`add_generation` for several requests in one transaction (a burst's group commit):
        all are recorded or, if one is refused (a missing parent), none. Each kind of statement
        runs once for the whole batch (executemany), not once per row."""
        if not rows:
            return []
        now = utcnow()
        defaults = new_row_defaults()  # rows are written at once: one set serves the batch
        # One row per id in each statement: PostgreSQL refuses an upsert that would touch a row
        # twice, and a member's four requests often share a batch. The latest name wins.
        generations: dict[str, dict[str, Any]] = {}
        named: dict[str, dict[str, Any]] = {}
        unnamed: dict[str, dict[str, Any]] = {}
        for new in rows:
            if new.id not in generations:  # validated as GenerationCreate; the rest defaults
                row = {**defaults, **new.model_dump(exclude={"owner_name"})}
                generations[new.id] = row | {"created_at": now, "updated_at": now}
            member = {"id": new.owner_id, "display_name": new.owner_name, "created_at": now}
            (named if new.owner_name else unnamed)[new.owner_id] = member
        unnamed = {m: row for m, row in unnamed.items() if m not in named}
        parents = {new.parent_id for new in rows if new.parent_id is not None}
        with write_lock(self.engine), self.engine.begin() as conn:
            if parents:
                found = conn.execute(self._parents_exist, {"ids": list(parents)}).scalars()
                if missing := parents - set(found):
                    raise ValueError(f"parent generation {min(missing)} does not exist")
            for statement, members in ((self._upsert_member, named), (self._add_member, unnamed)):
                if members:
                    conn.execute(statement, list(members.values()))
            inserted = set(conn.execute(self._add_generation, list(generations.values())).scalars())
        created: list[bool] = []
        for new in rows:
            added = new.id in inserted
            inserted.discard(new.id)  # the same id twice in one batch: only the first is new
            if not added:
                log.info("generation %s already recorded; enqueue retried", new.id)
            created.append(added)
        return created

    def _update(self, generation_id: str, *conditions: Any, **values: Any) -> int:
        """One conditional UPDATE of a generation row; returns how many rows it changed."""
        statement = (
            sa.update(Generation)
            .where(col(Generation.id) == generation_id, *conditions)
            .values(updated_at=utcnow(), **values)
        )
        with write_lock(self.engine), self._session() as session:
            changed = session.exec(statement).rowcount
            session.commit()
        return changed

    def mark_rendering(self, generation_id: str, *, worker: str, attempt: int) -> None:
        """A worker started (or restarted) rendering; a finished clip stays finished."""
        changed = self._update(
            generation_id,
            col(Generation.status) != GenerationStatus.DONE,
            status=GenerationStatus.RENDERING,
            worker=worker,
            attempts=attempt,
            started_at=utcnow(),
            finished_at=None,
            error=None,
        )
        if not changed:
            log.info("generation %s not marked rendering: done already or unknown", generation_id)

    def mark_done(
        self,
        generation_id: str,
        *,
        media_path: str,
        size_bytes: int,
        timings: dict[str, float],
        moderation: Moderation | None = None,
    ) -> bool:
        """Record the finished clip; True only for the call that actually finished it.

        `moderation` (the output scan's HELD) is set in the same statement, so the clip is
        never public between being done and being held; a clip a moderator already hid or
        removed while it rendered keeps that.

        A retried job that renders the same clip again gets False and must not announce it a
        second time; the first `finished_at` (the gallery's sort key) is kept.
        """
        finished_at = utcnow()
        changed = self._update(
            generation_id,
            col(Generation.status) != GenerationStatus.DONE,
            status=GenerationStatus.DONE,
            media_path=media_path,
            size_bytes=size_bytes,
            timings=dict(timings),
            finished_at=finished_at,
            # Likes come once the clip is shown, so a clip starts trending from none.
            hot_score=hot_score(0, finished_at),
            error=None,
            **({"moderation": _unless_moderated(moderation)} if moderation is not None else {}),
        )
        if not changed:
            log.info("generation %s already done (or unknown); not marked again", generation_id)
        return changed == 1

    def mark_failed(self, generation_id: str, *, error: str) -> None:
        """Record a failure; a clip that is already done is never turned into a failure."""
        changed = self._update(
            generation_id,
            col(Generation.status) != GenerationStatus.DONE,
            status=GenerationStatus.FAILED,
            error=error[:MAX_ERROR_CHARS],
            finished_at=utcnow(),
        )
        if not changed:
            log.info("generation %s not marked failed: done already or unknown", generation_id)

    def set_discord_message(self, generation_id: str, message_id: int) -> None:
        """Remember the Discord message that shows the clip (for edits, replies and reports)."""
        self._update(generation_id, discord_message_id=message_id)

    def set_moderation(self, generation_id: str, state: Moderation | str) -> bool:
        """Hold, hide, remove or clear a clip; True if the row exists and changed state.

        Only "ok" clips are public: anything else takes the clip off every page, list, search,
        lineage, preview and count at once (they all read PUBLIC_SQL).
        """
        state = Moderation(state)
        return bool(
            self._update(generation_id, col(Generation.moderation) != state.value, moderation=state)
        )

    def get(self, generation_id: str) -> Generation | None:
        """One generation in any state, or None."""
        with self._session() as session:
            return session.get(Generation, generation_id)

    def list_public(self, *, limit: int = 24, before: Cursor | None = None) -> list[Generation]:
        """Public clips, newest finished first, strictly older than `before`.

        Keyset pagination on (finished_at, id) reads one index range per page, however deep,
        and never skips or repeats a clip when new ones arrive while someone pages. (On SQLite,
        SQLAlchemy writes a constant `OFFSET 0` after every LIMIT; it skips nothing.)
        """
        if not 1 <= limit <= MAX_PAGE_SIZE:
            raise ValueError(f"limit={limit} must be between 1 and {MAX_PAGE_SIZE}")
        statement = (
            select(Generation)
            .where(public())
            .order_by(col(Generation.finished_at).desc(), col(Generation.id).desc())
            .limit(limit)
        )
        if before is not None:
            finished_at, generation_id = before
            key = sa.tuple_(col(Generation.finished_at), col(Generation.id))
            statement = statement.where(key < (finished_at, generation_id))
        with self._session() as session:
            return list(session.exec(statement).all())

    def list_unposted(self, since: datetime) -> list[Generation]:
        """Clips a worker finished (done or failed) since `since` for a Discord member whose
        post is not recorded: what a reconciler announces again when Redis lost the result."""
        statement = (
            select(Generation)
            .where(
                col(Generation.status).in_((GenerationStatus.DONE, GenerationStatus.FAILED)),
                col(Generation.discord_message_id).is_(None),
                col(Generation.worker) != "",  # rendered: not a request refused in review
                col(Generation.owner_id).startswith("discord:"),
                col(Generation.finished_at) > since,
            )
            .order_by(col(Generation.finished_at))
        )
        with self._session() as session:
            return list(session.exec(statement).all())

    def inputs_in_use(self, generation_id: str) -> set[str]:
        """The stored paths that undeleted clips made from this one (its remixes, theirs, and
        so on) name as input media: files that must outlive this clip's deletion. A follow-up
        keeps its parent's input image and takes the parent's video to extend or upscale, so
        only the clip's lineage below it can name its files."""
        tree = (
            sa.select(col(Generation.id))
            .where(col(Generation.parent_id) == generation_id)
            .cte("lineage", recursive=True)
        )
        tree = tree.union_all(
            sa.select(col(Generation.id)).where(col(Generation.parent_id) == tree.c.id)
        )
        statement = sa.select(col(Generation.spec)).where(
            col(Generation.id).in_(sa.select(tree.c.id)), col(Generation.deleted_at).is_(None)
        )
        with self._session() as session:
            specs = session.execute(statement).scalars().all()
        return {
            str(path)
            for spec in specs
            if isinstance(spec, dict)
            for path in spec.get("input_media") or ()
        }

    def page_by_id(self, *, after: str = "", limit: int = 500) -> list[Generation]:
        """Every generation, in id order, from just after `after` (what a sweep over all clips
        pages through: an index range per page, whatever changes meanwhile)."""
        statement = (
            select(Generation)
            .where(col(Generation.id) > after)
            .order_by(col(Generation.id))
            .limit(limit)
        )
        with self._session() as session:
            return list(session.exec(statement).all())

    def list_unfinished(self) -> list[Generation]:
        """Queued and rendering requests, oldest first (what a reconciler re-enqueues)."""
        statement = (
            select(Generation)
            .where(sa.text(UNFINISHED_SQL))  # the words of its partial index
            .order_by(col(Generation.created_at), col(Generation.id))
        )
        with self._session() as session:
            return list(session.exec(statement).all())


def _unless_moderated(moderation: Moderation) -> Any:
    """`moderation` for a clip still "ok"; a moderator's earlier decision otherwise."""
    current = col(Generation.moderation)
    return sa.case((current == Moderation.OK, moderation.value), else_=current)
