"""What the gallery's pages read: public lists in three orders, members, search, lineage.

Every query here says `public()` (PUBLIC_SQL) in the words of the partial indexes that serve it,
so hidden, deleted, unfinished and moderated clips are left out by the database, and each page
is one index range however deep someone pages (keyset, never OFFSET; see `gallery.paging`).
Methods are synchronous and open one short session each; the web calls them in threads.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from gallery.models import MODERATED_SQL, Generation, GenerationStatus, Member, Moderation, utcnow
from gallery.paging import (
    Key,
    Period,
    Sort,
    decode,
    decode_position,
    encode,
    encode_position,
)
from gallery.store import MAX_PAGE_SIZE, public

MAX_SEARCH_WORDS = 12
LINEAGE_DEPTH = 30  # parents shown, at most
TREE_DEPTH = 4  # generations of remixes shown below a clip
TREE_NODES = 60  # remixes looked at below a clip
ADMIN_STATES = ("held", "hidden", "removed", "member-hidden", "deleted")

_WORD = re.compile(r"\w+", re.UNICODE)


@dataclass
class Page:
    """One page of clips, the cursor of the next (None on the last), the owners' names and
    which of the clips' parents are public (the only ones a page may name)."""

    clips: list[Generation]
    next: str | None = None
    names: dict[str, str] = field(default_factory=dict)
    parents: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class MemberProfile:
    id: str
    display_name: str
    joined: datetime
    clips: int
    likes: int
    latest: datetime | None


@dataclass
class Node:
    clip: Generation
    children: list[Node] = field(default_factory=list)


@dataclass
class Lineage:
    """A clip's public ancestors (oldest first) and its public remixes as a small tree; the
    public parents of the clips in it."""

    ancestors: list[Generation]
    children: list[Node]
    truncated: bool = False
    parents: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class SearchQuery:
    text: str = ""
    camera: str | None = None
    aspect_ratio: str | None = None
    backend: str | None = None

    def words(self) -> list[str]:
        """The words searched for (all must match), punctuation and operators dropped."""
        return _WORD.findall(self.text.casefold())[:MAX_SEARCH_WORDS]

    @property
    def empty(self) -> bool:
        return not (self.words() or self.camera or self.aspect_ratio or self.backend)


def _check_limit(limit: int) -> None:
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise ValueError(f"limit={limit} must be between 1 and {MAX_PAGE_SIZE}")


def _key(clip: Generation, sort: Sort) -> Key:
    return Key(
        sort,
        clip.id,
        finished_at=clip.finished_at,
        likes=clip.like_count,
        score=clip.hot_score,
    )


_ORDER: dict[Sort, tuple[str, ...]] = {
    Sort.NEW: ("finished_at", "id"),
    Sort.TOP: ("like_count", "finished_at", "id"),
    Sort.TRENDING: ("hot_score", "id"),
}


def _after(sort: Sort, cursor: str) -> Any:
    """The keyset condition "strictly after the cursor's row" in `sort`'s (descending) order."""
    key = decode(cursor, sort)
    columns = [getattr(Generation, name) for name in _ORDER[sort]]
    values: dict[Sort, tuple[Any, ...]] = {
        Sort.NEW: (key.finished_at, key.generation_id),
        Sort.TOP: (key.likes, key.finished_at, key.generation_id),
        Sort.TRENDING: (key.score, key.generation_id),
    }
    return sa.tuple_(*columns) < values[sort]


def _ordered(statement: Any, sort: Sort) -> Any:
    return statement.order_by(*(getattr(Generation, name).desc() for name in _ORDER[sort]))


class BrowseStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name

    def _session(self) -> Session:
        return Session(self.engine, expire_on_commit=False)

    def _page(self, session: Session, statement: Any, sort: Sort, limit: int) -> Page:
        rows = list(session.exec(statement.limit(limit + 1)).all())
        next_cursor = encode(_key(rows[limit - 1], sort)) if len(rows) > limit else None
        page = Page(rows[:limit], next_cursor)
        page.names = self._names(session, {clip.owner_id for clip in page.clips})
        page.parents = self._public_parents(session, page.clips)
        return page

    @staticmethod
    def _names(session: Session, member_ids: Iterable[str]) -> dict[str, str]:
        ids = sorted(set(member_ids))
        if not ids:
            return {}
        statement = select(col(Member.id), col(Member.display_name)).where(col(Member.id).in_(ids))
        return {member_id: name for member_id, name in session.exec(statement).all()}

    @staticmethod
    def _public_parents(session: Session, clips: Iterable[Generation]) -> set[str]:
        """The parents of `clips` that are public themselves, in one query."""
        ids = sorted({clip.parent_id for clip in clips if clip.parent_id})
        if not ids:
            return set()
        statement = select(col(Generation.id)).where(col(Generation.id).in_(ids), public())
        return set(session.exec(statement).all())

    def public_parents(self, clips: Iterable[Generation]) -> set[str]:
        """Which of these clips' parents a public page may name."""
        with self._session() as session:
            return self._public_parents(session, clips)

    # --- lists ----------------------------------------------------------------------------

    def clips(
        self,
        sort: Sort = Sort.NEW,
        *,
        period: Period = Period.ALL,
        limit: int = 24,
        cursor: str | None = None,
        now: datetime | None = None,
    ) -> Page:
        """Public clips in one order; `period` narrows Top to clips finished in the last day or
        week (New and Trending are already about recent clips, so it does not apply to them)."""
        _check_limit(limit)
        statement = _ordered(select(Generation).where(public()), sort)
        if sort is Sort.TOP and (since := period.since(now or utcnow())) is not None:
            statement = statement.where(col(Generation.finished_at) >= since)
        if cursor is not None:
            statement = statement.where(_after(sort, cursor))
        with self._session() as session:
            return self._page(session, statement, sort, limit)

    def public_clip(self, generation_id: str) -> tuple[Generation, str] | None:
        """A public clip and its owner's display name, or None for anything not public."""
        statement = (
            select(Generation, col(Member.display_name))
            .join(Member, col(Member.id) == col(Generation.owner_id))
            .where(col(Generation.id) == generation_id, public())
        )
        with self._session() as session:
            row = session.exec(statement).first()
        return (row[0], row[1]) if row is not None else None

    # --- members --------------------------------------------------------------------------

    def member(self, member_id: str) -> MemberProfile | None:
        """A member with their public stats; None if they have no public clip to show."""
        stats = select(
            sa.func.count(), sa.func.coalesce(sa.func.sum(col(Generation.like_count)), 0)
        ).where(col(Generation.owner_id) == member_id, public())
        latest = select(sa.func.max(col(Generation.finished_at))).where(
            col(Generation.owner_id) == member_id, public()
        )
        with self._session() as session:
            member = session.get(Member, member_id)
            if member is None:
                return None
            clips, likes = session.exec(stats).one()
            if not clips:
                return None
            last = session.exec(latest).one()
        return MemberProfile(
            member.id, member.display_name, member.created_at, int(clips), int(likes), last
        )

    def member_clips(self, member_id: str, *, limit: int = 24, cursor: str | None = None) -> Page:
        _check_limit(limit)
        statement = _ordered(
            select(Generation).where(col(Generation.owner_id) == member_id, public()), Sort.NEW
        )
        if cursor is not None:
            statement = statement.where(_after(Sort.NEW, cursor))
        with self._session() as session:
            return self._page(session, statement, Sort.NEW, limit)

    # --- search ---------------------------------------------------------------------------

    def search(self, query: SearchQuery, *, limit: int = 24, cursor: str | None = None) -> Page:
        """Public clips whose prompt has every word (stemmed), newest first, with filters.

        PostgreSQL: the GIN index on the prompt's tsvector, or the newest-first index with the
        match as a filter when the words are common (the planner picks), keyset on
        (finished_at, id). SQLite: the FTS5 table walked newest-insert first (its rowid order,
        which it gives without sorting), each hit checked against its row, so a page costs
        about one lookup per hit however common the words; keyset on that rowid.
        """
        _check_limit(limit)
        words = query.words()
        if not words and query.text.strip():
            return Page([])  # only punctuation: nothing can match
        if words and self.dialect == "sqlite":
            return self._search_fts(query, words, limit, cursor)
        statement = _ordered(select(Generation).where(public()), Sort.NEW)
        if words:
            statement = statement.where(
                sa.text(
                    "to_tsvector('english', prompt) @@ plainto_tsquery('english', :search_text)"
                ).bindparams(search_text=" ".join(words))
            )
        statement = self._filtered(statement, query)
        if cursor is not None:
            statement = statement.where(_after(Sort.NEW, cursor))
        with self._session() as session:
            return self._page(session, statement, Sort.NEW, limit)

    def _search_fts(
        self, query: SearchQuery, words: Sequence[str], limit: int, cursor: str | None
    ) -> Page:
        # Each word quoted as an FTS5 string: no operator or column filter gets through.
        fts = " ".join('"{}"'.format(word.replace('"', '""')) for word in words)
        position: Any = sa.literal_column("generation_fts.rowid")
        statement = (
            select(Generation, position)
            .select_from(sa.table("generation_fts"))
            .join(Generation, col(Generation.id) == sa.literal_column("generation_fts.id"))
            .where(sa.text("generation_fts MATCH :fts").bindparams(fts=fts), public())
            .order_by(position.desc())
        )
        statement = self._filtered(statement, query)
        if cursor is not None:
            statement = statement.where(position < decode_position(cursor))
        with self._session() as session:
            rows = list(session.exec(statement.limit(limit + 1)).all())
            clips = [clip for clip, _ in rows[:limit]]
            names = self._names(session, {clip.owner_id for clip in clips})
            parents = self._public_parents(session, clips)
        next_cursor = encode_position(rows[limit - 1][1]) if len(rows) > limit else None
        return Page(clips, next_cursor, names, parents)

    @staticmethod
    def _filtered(statement: Any, query: SearchQuery) -> Any:
        if query.camera:
            statement = statement.where(col(Generation.camera) == query.camera)
        if query.aspect_ratio:
            statement = statement.where(col(Generation.aspect_ratio) == query.aspect_ratio)
        if query.backend:
            statement = statement.where(col(Generation.backend) == query.backend)
        return statement

    # --- lineage --------------------------------------------------------------------------

    def lineage(self, generation_id: str) -> Lineage:
        """Public ancestors and remixes; a non-public clip in between is skipped, not shown,
        and its public remixes hang from the nearest public clip above them."""
        up = sa.text(
            "WITH RECURSIVE chain(id, parent_id, depth) AS ("
            " SELECT id, parent_id, 0 FROM generation WHERE id = :gid"
            " UNION ALL SELECT g.id, g.parent_id, chain.depth + 1"
            " FROM generation g JOIN chain ON g.id = chain.parent_id"
            " WHERE chain.depth < :depth)"
            " SELECT id, depth FROM chain WHERE depth > 0"
        )
        down = sa.text(
            "WITH RECURSIVE tree(id, parent_id, depth) AS ("
            " SELECT id, parent_id, 0 FROM generation WHERE id = :gid"
            " UNION ALL SELECT g.id, g.parent_id, tree.depth + 1"
            " FROM generation g JOIN tree ON g.parent_id = tree.id"
            " WHERE tree.depth < :depth)"
            " SELECT id, parent_id, depth FROM tree WHERE depth > 0 LIMIT :nodes"
        )
        with self._session() as session:
            chain = session.execute(up, {"gid": generation_id, "depth": LINEAGE_DEPTH}).all()
            tree = session.execute(
                down, {"gid": generation_id, "depth": TREE_DEPTH, "nodes": TREE_NODES + 1}
            ).all()
            ids = [row.id for row in chain] + [row.id for row in tree[:TREE_NODES]]
            rows: dict[str, Generation] = {}
            if ids:
                found = session.exec(
                    select(Generation).where(col(Generation.id).in_(ids), public())
                ).all()
                rows = {clip.id: clip for clip in found}
            named = self._public_parents(session, rows.values())
        depth = {row.id: row.depth for row in chain}
        ancestors = sorted((rows[i] for i in depth if i in rows), key=lambda c: -depth[c.id])
        parents = {row.id: row.parent_id for row in tree[:TREE_NODES]}
        nodes = {gid: Node(rows[gid]) for gid in parents if gid in rows}
        top: list[Node] = []
        for gid, node in nodes.items():
            above = parents[gid]
            while above is not None and above != generation_id and above not in nodes:
                above = parents.get(above)
            (nodes[above].children if above in nodes else top).append(node)
        return Lineage(ancestors, top, truncated=len(tree) > TREE_NODES, parents=named)

    # --- moderators and metrics -----------------------------------------------------------

    def moderation_list(self, state: str, *, limit: int = 50, cursor: str | None = None) -> Page:
        """Clips kept from the public for one reason, newest request first (`/admin`)."""
        _check_limit(limit)
        conditions: dict[str, Any] = {
            # Each with the words of the partial index on moderation.
            "held": sa.and_(sa.text(MODERATED_SQL), col(Generation.moderation) == Moderation.HELD),
            "hidden": sa.and_(
                sa.text(MODERATED_SQL), col(Generation.moderation) == Moderation.HIDDEN
            ),
            "removed": sa.and_(
                sa.text(MODERATED_SQL), col(Generation.moderation) == Moderation.REMOVED
            ),
            "member-hidden": col(Generation.hidden) == sa.true(),
            "deleted": col(Generation.deleted_at).is_not(None),
        }
        if state not in conditions:
            raise ValueError(f"state={state!r}: one of {', '.join(ADMIN_STATES)}")
        statement = (
            select(Generation)
            .where(conditions[state])
            .order_by(col(Generation.created_at).desc(), col(Generation.id).desc())
        )
        if cursor is not None:
            key = decode(cursor, Sort.NEW)
            position = sa.tuple_(col(Generation.created_at), col(Generation.id))
            statement = statement.where(position < (key.finished_at, key.generation_id))
        with self._session() as session:
            rows = list(session.exec(statement.limit(limit + 1)).all())
            names = self._names(session, {clip.owner_id for clip in rows[:limit]})
        next_cursor = None
        if len(rows) > limit:
            last = rows[limit - 1]
            next_cursor = encode(Key(Sort.NEW, last.id, finished_at=last.created_at))
        return Page(rows[:limit], next_cursor, names)

    def status_counts(self) -> tuple[dict[str, int], int]:
        """Requests by status (every status named, zeros included), and public clips."""
        by_status = select(col(Generation.status), sa.func.count()).group_by(col(Generation.status))
        public_count = select(sa.func.count()).select_from(Generation).where(public())
        with self._session() as session:
            counts = {str(status): int(n) for status, n in session.exec(by_status).all()}
            shown = int(session.exec(public_count).one())
        return {s.value: counts.get(s.value, 0) for s in GenerationStatus}, shown
