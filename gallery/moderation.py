"""What moderators do, kept: the audit log, reports, bans, and moving a clip between
moderation states.

Every state change is one conditional statement, so two moderators clicking at once (or a
report arriving while a moderator decides) change a clip once: `transition` says whether this
call was the one that moved it. Methods are synchronous; async callers use `asyncio.to_thread`.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from gallery.db import write_lock
from gallery.models import (
    Ban,
    Generation,
    GenerationStatus,
    Member,
    Moderation,
    ModerationAction,
    Report,
    utcnow,
)

MAX_LOG = 100
MAX_REASON = 1000
AUDIT_PAGE = 50


@dataclass
class AuditPage:
    """One page of the audit log, newest first; `next` is the id to page on from (None: last
    page); `names` the display names known for the members it mentions."""

    actions: list[ModerationAction]
    next: int | None
    names: dict[str, str]


class ModerationStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def _session(self) -> Session:
        return Session(self.engine, expire_on_commit=False)

    # --- the audit log -------------------------------------------------------------------------

    def record(
        self,
        action: str,
        *,
        moderator_id: str,
        guild_id: int | None = None,
        target_member_id: str | None = None,
        target_generation_id: str | None = None,
        reason: str = "",
        expires_at: datetime | None = None,
    ) -> ModerationAction:
        row = ModerationAction(
            guild_id=guild_id,
            moderator_id=moderator_id,
            action=action,
            target_member_id=target_member_id,
            target_generation_id=target_generation_id,
            reason=reason[:MAX_REASON],
            expires_at=expires_at,
        )
        with write_lock(self.engine), self._session() as session:
            session.add(row)
            session.commit()
        return row

    def log(
        self, *, guild_id: int | None = None, member_id: str | None = None, limit: int = 20
    ) -> list[ModerationAction]:
        """The newest actions first, in one guild (None: everywhere), about one member if given
        (as the target, or as the owner of the clip acted on)."""
        statement = select(ModerationAction)
        if guild_id is not None:
            statement = statement.where(col(ModerationAction.guild_id) == guild_id)
        if member_id is not None:
            owned = select(col(Generation.id)).where(col(Generation.owner_id) == member_id)
            statement = statement.where(
                sa.or_(
                    col(ModerationAction.target_member_id) == member_id,
                    col(ModerationAction.target_generation_id).in_(owned),
                )
            )
        statement = statement.order_by(
            col(ModerationAction.created_at).desc(), col(ModerationAction.id).desc()
        ).limit(max(1, min(limit, MAX_LOG)))
        with self._session() as session:
            return list(session.exec(statement).all())

    def history(self, generation_id: str) -> list[ModerationAction]:
        """Every action on one clip, oldest first (a clip gathers a handful at most)."""
        statement = (
            select(ModerationAction)
            .where(col(ModerationAction.target_generation_id) == generation_id)
            .order_by(col(ModerationAction.id))
        )
        with self._session() as session:
            return list(session.exec(statement).all())

    def audit_page(self, *, before: int | None = None, limit: int = AUDIT_PAGE) -> AuditPage:
        """The whole audit log, newest first, paged by keyset on the id (the primary key, so
        every page is an index range): the actions with ids below `before`, at most `limit`."""
        if not 1 <= limit <= MAX_LOG:
            raise ValueError(f"limit={limit} must be between 1 and {MAX_LOG}")
        statement = select(ModerationAction).order_by(col(ModerationAction.id).desc())
        if before is not None:
            statement = statement.where(col(ModerationAction.id) < before)
        with self._session() as session:
            rows = list(session.exec(statement.limit(limit + 1)).all())
            actions = rows[:limit]
            mentioned = {a.moderator_id for a in actions} | {
                a.target_member_id for a in actions if a.target_member_id
            }
            names = dict(
                session.exec(
                    select(col(Member.id), col(Member.display_name)).where(
                        col(Member.id).in_(sorted(mentioned))
                    )
                ).all()
            )
        after = actions[-1].id if len(rows) > limit else None
        return AuditPage(actions, after, {k: v for k, v in names.items() if v})

    # --- clips ---------------------------------------------------------------------------------

    def transition(
        self, generation_id: str, from_states: Collection[Moderation | str], to: Moderation | str
    ) -> bool:
        """Move a clip to `to` if it is in one of `from_states`; True for the call that did."""
        sources = [Moderation(s).value for s in from_states]
        shown = {"purged_at": None} if Moderation(to) == Moderation.OK else {}  # kept, now
        with write_lock(self.engine), self._session() as session:
            changed = session.exec(
                sa.update(Generation)
                .where(col(Generation.id) == generation_id, col(Generation.moderation).in_(sources))
                .values(moderation=Moderation(to), updated_at=utcnow(), **shown)
            ).rowcount
            session.commit()
        return bool(changed)

    def unhidden_of(self, member_id: str) -> list[str]:
        """The ids of a member's clips that a purge would hide now."""
        with self._session() as session:
            return list(session.exec(select(col(Generation.id)).where(*_unhidden(member_id))))

    def hide_all_of(self, member_id: str) -> list[Generation]:
        """Hide every public-or-unfinished clip a member made (a purge); the rows it hid. Each
        is marked purged: unless a moderator shows it again, `gallery.deletion.expire_purged`
        deletes it after a grace period."""
        with write_lock(self.engine), self._session() as session:
            rows = list(session.exec(select(Generation).where(*_unhidden(member_id))).all())
            ids = [row.id for row in rows]
            if ids:
                now = utcnow()
                session.exec(
                    sa.update(Generation)
                    .where(
                        col(Generation.id).in_(ids),
                        col(Generation.moderation) == Moderation.OK.value,
                    )
                    .values(moderation=Moderation.HIDDEN, purged_at=now, updated_at=now)
                )
            session.commit()
        return rows

    def purged_before(self, cutoff: datetime) -> list[str]:
        """Clips a purge hid before `cutoff` that are still hidden (or removed), undeleted."""
        statement = select(col(Generation.id)).where(
            col(Generation.purged_at) <= cutoff,
            col(Generation.moderation) != Moderation.OK.value,
            col(Generation.deleted_at).is_(None),
        )
        with self._session() as session:
            return list(session.exec(statement).all())

    # --- reports -------------------------------------------------------------------------------

    def report(self, generation_id: str, reporter_id: str, reason: str = "") -> tuple[bool, int]:
        """(whether this report is new, how many distinct members' reports count now).

        Reports only count on a finished, undeleted clip; a member reports a clip once, and a
        report dismissed by a moderator's restore stays dismissed (it cannot be made again).
        """
        with write_lock(self.engine), self._session() as session:
            clip = session.get(Generation, generation_id)
            if clip is None or clip.status != GenerationStatus.DONE or clip.deleted_at:
                return False, 0
            added = session.get(Report, (generation_id, reporter_id)) is None
            if added:
                session.add(
                    Report(
                        generation_id=generation_id,
                        reporter_id=reporter_id,
                        reason=reason[:MAX_REASON],
                    )
                )
                try:
                    session.flush()
                except sa.exc.IntegrityError:  # the same report at the same moment elsewhere
                    session.rollback()
                    added = False
            count = self._count(session, generation_id)
            session.commit()
        return added, count

    @staticmethod
    def _count(session: Session, generation_id: str) -> int:
        statement = select(sa.func.count()).where(
            col(Report.generation_id) == generation_id, col(Report.dismissed_at).is_(None)
        )
        return int(session.exec(statement).one())

    def report_count(self, generation_id: str) -> int:
        with self._session() as session:
            return self._count(session, generation_id)

    def dismiss_reports(self, generation_id: str) -> int:
        """Stop the clip's current reports from counting; how many were dismissed."""
        with write_lock(self.engine), self._session() as session:
            changed = session.exec(
                sa.update(Report)
                .where(
                    col(Report.generation_id) == generation_id, col(Report.dismissed_at).is_(None)
                )
                .values(dismissed_at=utcnow())
            ).rowcount
            session.commit()
        return changed

    # --- bans ----------------------------------------------------------------------------------

    def ban(
        self,
        member_id: str,
        guild_id: int,
        *,
        created_by: str,
        reason: str = "",
        until: datetime | None = None,
    ) -> Ban:
        """Ban (or re-ban with new terms) a member in a guild."""
        with write_lock(self.engine), self._session() as session:
            row = session.get(Ban, (member_id, guild_id))
            if row is None:
                row = Ban(member_id=member_id, guild_id=guild_id, created_by=created_by)
            row.reason = reason[:MAX_REASON]
            row.until = until
            row.created_by = created_by
            row.created_at = utcnow()
            session.add(row)
            session.commit()
        return row

    def unban(self, member_id: str, guild_id: int) -> bool:
        with write_lock(self.engine), self._session() as session:
            removed = session.exec(
                sa.delete(Ban).where(col(Ban.member_id) == member_id, col(Ban.guild_id) == guild_id)
            ).rowcount
            session.commit()
        return bool(removed)

    def active_ban(
        self, member_id: str, guild_id: int | None, *, now: datetime | None = None
    ) -> Ban | None:
        """The ban that stops this member now: in that guild, or (for a request from DMs, which
        belong to no guild) in any guild. The longest one when there are several."""
        return self.active_bans([(member_id, guild_id)], now=now)[0]

    def active_bans(
        self, asks: Sequence[tuple[str, int | None]], *, now: datetime | None = None
    ) -> list[Ban | None]:
        """`active_ban` for each (member, guild) in one query: a burst of requests asks for
        many members at once."""
        now = now or utcnow()
        statement = select(Ban).where(
            col(Ban.member_id).in_({member_id for member_id, _ in asks}),
            sa.or_(col(Ban.until).is_(None), col(Ban.until) > now),
        )
        with self._session() as session:
            bans = list(session.exec(statement).all())
        answers: list[Ban | None] = []
        for member_id, guild_id in asks:
            stopping = [
                b for b in bans if b.member_id == member_id and guild_id in (None, b.guild_id)
            ]
            longest = max(stopping, key=lambda b: (b.until is None, b.until or now), default=None)
            answers.append(longest)
        return answers


def _unhidden(member_id: str) -> tuple[Any, ...]:
    """What a purge hides: the member's clips that are "ok" (public or unfinished), undeleted."""
    return (
        col(Generation.owner_id) == member_id,
        col(Generation.moderation) == Moderation.OK.value,
        col(Generation.deleted_at).is_(None),
    )
