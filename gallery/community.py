"""What members do with clips once they exist: like, delete, remix lineage, their defaults.

Kept apart from `store.py`, which is the generation lifecycle the worker drives.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from gallery.db import write_lock
from gallery.models import PUBLIC_SQL, UNFINISHED, Generation, Like, Member, utcnow
from gallery.paging import hot_score


class CommunityStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def _session(self) -> Session:
        return Session(self.engine, expire_on_commit=False)

    @staticmethod
    def _count_like(session: Session, generation_id: str, step: int) -> None:
        """Move the like count by `step` and the trending score with it, in the caller's
        transaction (the row stays locked from the first UPDATE to the commit)."""
        condition = [col(Generation.id) == generation_id]
        if step < 0:
            condition.append(col(Generation.like_count) > 0)
        row = session.execute(
            sa.update(Generation)
            .where(*condition)
            .values(like_count=Generation.like_count + step)
            .returning(col(Generation.like_count), col(Generation.finished_at))
        ).first()
        if row is not None and row.finished_at is not None:
            session.execute(
                sa.update(Generation)
                .where(col(Generation.id) == generation_id)
                .values(hot_score=hot_score(row.like_count, row.finished_at))
            )

    def by_message(self, message_id: int) -> Generation | None:
        """The clip a Discord message shows (reactions and buttons arrive with message ids)."""
        statement = select(Generation).where(col(Generation.discord_message_id) == message_id)
        with self._session() as session:
            return session.exec(statement).first()

    def like(self, generation_id: str, member_id: str, display_name: str = "") -> bool:
        """True if this member had not liked the clip yet; the count moves only then."""
        with write_lock(self.engine), self._session() as session:
            if session.get(Member, member_id) is None:
                session.add(Member(id=member_id, display_name=display_name[:100]))
                session.flush()
            if session.get(Like, (generation_id, member_id)) is not None:
                return False
            session.add(Like(generation_id=generation_id, member_id=member_id))
            try:
                session.flush()
                self._count_like(session, generation_id, +1)
                session.commit()
            except sa.exc.IntegrityError:  # liked at the same moment from another process
                session.rollback()
                return False
        return True

    def unlike(self, generation_id: str, member_id: str) -> bool:
        with write_lock(self.engine), self._session() as session:
            removed = session.exec(
                sa.delete(Like).where(
                    col(Like.generation_id) == generation_id, col(Like.member_id) == member_id
                )
            ).rowcount
            if removed:
                self._count_like(session, generation_id, -1)
            session.commit()
        return bool(removed)

    def delete(self, generation_id: str) -> bool:
        """Take a clip out of everything public; True the first time."""
        with write_lock(self.engine), self._session() as session:
            changed = session.exec(
                sa.update(Generation)
                .where(col(Generation.id) == generation_id, col(Generation.deleted_at).is_(None))
                .values(deleted_at=utcnow(), updated_at=utcnow())
            ).rowcount
            session.commit()
        return bool(changed)

    def children(self, generation_id: str) -> list[Generation]:
        """Remixes made from this clip, oldest first."""
        statement = (
            select(Generation)
            .where(col(Generation.parent_id) == generation_id)
            .order_by(col(Generation.created_at))
        )
        with self._session() as session:
            return list(session.exec(statement).all())

    def default_flags(self, member_id: str) -> str:
        return self.default_flags_of([member_id])[0]

    def default_flags_of(self, member_ids: Sequence[str]) -> list[str]:
        """Each member's saved flags ("" for none) in one query, for a burst of requests."""
        statement = select(Member.id, Member.default_flags).where(
            col(Member.id).in_(set(member_ids))
        )
        with self._session() as session:
            saved = dict(session.exec(statement).all())
        return [saved.get(member_id) or "" for member_id in member_ids]

    def set_default_flags(self, member_id: str, flags: str, display_name: str = "") -> None:
        with write_lock(self.engine), self._session() as session:
            member = session.get(Member, member_id)
            if member is None:
                member = Member(id=member_id, display_name=display_name[:100])
            member.default_flags = flags
            session.add(member)
            session.commit()

    def count_since(self, member_id: str, since: datetime) -> int:
        """Requests a member made since a moment (today's usage), failed ones included."""
        statement = select(sa.func.count()).where(
            col(Generation.owner_id) == member_id, col(Generation.created_at) >= since
        )
        with self._session() as session:
            return int(session.exec(statement).one())

    def unfinished_of(self, member_id: str) -> list[Generation]:
        """A member's queued and rendering requests, oldest first (their `/queue`)."""
        statement = (
            select(Generation)
            .where(col(Generation.owner_id) == member_id, col(Generation.status).in_(UNFINISHED))
            .order_by(col(Generation.created_at))
        )
        with self._session() as session:
            return list(session.exec(statement).all())

    def guild_clips(
        self, guild_id: int, *, order: str = "new", limit: int = 10, offset: int = 0
    ) -> list[Generation]:
        """Public clips made in one server, newest or most liked first (`/gallery` in Discord).

        Discord paging is a handful of pages of ten behind buttons, so a plain offset is fine
        here; the web gallery, which people scroll deeply, pages by keyset.
        """
        keys: dict[str, Any] = {
            "new": (col(Generation.finished_at).desc(), col(Generation.id).desc()),
            "top": (
                col(Generation.like_count).desc(),
                col(Generation.finished_at).desc(),
                col(Generation.id).desc(),
            ),
        }
        if order not in keys:
            raise ValueError(f"order={order!r}: 'new' or 'top'")
        statement = (
            select(Generation)
            .where(col(Generation.guild_id) == guild_id, sa.text(PUBLIC_SQL))
            .order_by(*keys[order])
            .limit(limit)
            .offset(offset)
        )
        with self._session() as session:
            return list(session.exec(statement).all())
