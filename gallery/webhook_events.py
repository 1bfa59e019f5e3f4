"""Writing API clips' webhook events into the outbox: the relay's side of it.

Writing an event and moving the clip's `api_clip.last_event` past it is one transaction, and
the move is a conditional UPDATE: of several API processes reading the same clip, one writes
its events and the others change nothing. A relay's page of clips is written in one
transaction (`record_many`), not one per clip: most clips of a burst have no target at all (no
`webhook_url`, no endpoint on their token), and for those only `last_event` moves, so they
leave the relay's reads once they end, without a payload ever being built for them.
Methods are synchronous; async callers use `asyncio.to_thread`.
"""

from __future__ import annotations

import secrets
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from gallery.apitables import UNSETTLED_SQL, ApiClip, WebhookDelivery, WebhookEndpoint
from gallery.db import write_lock
from gallery.models import Generation, GenerationStatus, Moderation, utcnow
from gallery.webhook_store import REQUEST_TARGET

INSERT_ROWS = 500  # outbox rows per INSERT (11 columns each: under any bound on parameters)

__all__ = ["STILL_QUEUED", "ClipState", "EventMove", "EventWriter", "NewEvent"]

# A clip told it is queued and queued still: nothing to write. Most clips a poll would read
# again (those asked in the last few seconds) are these, so the poll leaves them in the database
# (tests/api/test_webhooks_relay.py checks this against the relay's own `events_due`).
STILL_QUEUED = sa.and_(
    col(ApiClip.last_event) == "clip.queued",
    col(Generation.status) == GenerationStatus.QUEUED,
    col(Generation.moderation) == Moderation.OK,
)

_CLIPS = sa.table("api_clip", sa.column("generation_id"), sa.column("last_event"))
# A clip's `last_event` moved on only if it is still where this process read it (Core, not ORM:
# the ORM's UPDATE costs ten times as much per clip, and a page moves hundreds).
_MOVE = (
    sa.update(_CLIPS)
    .where(
        _CLIPS.c.generation_id == sa.bindparam("gid"),
        _CLIPS.c.last_event == sa.bindparam("after"),
    )
    .values(last_event=sa.bindparam("last"))
)


@dataclass(frozen=True)
class NewEvent:
    """One event of a clip to write for each of its targets: its order, its exact body."""

    event: str
    seq: int
    payload: str


@dataclass(frozen=True)
class ClipState:
    """What the relay reads of an API clip at each poll: where its events go, the last one
    written, and the row's state (the fields `api.clipstate.clip_status` and the relay's
    `events_due` read) without the rest of the row, which only a clip with events to send
    needs (`clips`)."""

    generation_id: str
    token_id: str
    webhook_url: str | None
    last_event: str
    status: GenerationStatus
    error: str | None
    moderation: Moderation
    started_at: datetime | None


@dataclass(frozen=True)
class EventMove:
    """One clip's step in `EventWriter.record_many`: its `last_event` moved from `after` to
    `last`, `events` written for each of its targets. `events` None: not built, since the clip
    was read as having no target (no webhook_url, no enabled endpoint): its `last_event` still
    moves, so it leaves the relay's reads once it ends."""

    generation_id: str
    token_id: str
    webhook_url: str | None
    after: str
    last: str
    events: Sequence[NewEvent] | None = None


def _delivery_rows(
    move: EventMove, endpoints: Sequence[WebhookEndpoint], now: datetime
) -> list[dict[str, Any]]:
    """An outbox row for each event and each target that takes it."""
    rows: list[dict[str, Any]] = []
    for new in move.events or ():
        targets = [(REQUEST_TARGET, move.webhook_url)] if move.webhook_url else []
        targets += [
            (e.id, e.url) for e in endpoints if not e.events or new.event in e.events.split()
        ]
        rows += [
            {
                "id": "msg_" + secrets.token_urlsafe(18),
                "generation_id": move.generation_id,
                "token_id": move.token_id,
                "target": target,
                "url": url,
                "event": new.event,
                "seq": new.seq,
                "payload": new.payload,
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
            }
            for target, url in targets
        ]
    return rows


class EventWriter:
    """The relay's reads of API clips and its writes of their events (`Outbox` adds the
    delivering)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert

    def _session(self) -> Session:
        return Session(self.engine, expire_on_commit=False)

    def record_events(
        self,
        clip: ApiClip,
        *,
        after: str,
        last: str,
        events: Sequence[NewEvent],
    ) -> bool:
        """Move the clip's `last_event` from `after` to `last` and write `events` for its
        targets, in one transaction; False (nothing written) if another process moved it first.

        Targets: the clip's own webhook_url, and each enabled endpoint of its token whose
        filter takes the event. A row already there (same clip, target, event) is kept."""
        move = EventMove(clip.generation_id, clip.token_id, clip.webhook_url, after, last, events)
        moved, _ = self.record_many([move])
        return bool(moved)

    def targeted_tokens(self, token_ids: Collection[str]) -> set[str]:
        """Those of `token_ids` with an enabled endpoint (whose clips have somewhere to go
        without a webhook_url of their own)."""
        if not token_ids:
            return set()
        with self._session() as session:
            return {endpoint.token_id for endpoint in self._endpoints(session, token_ids)}

    def record_many(self, moves: Sequence[EventMove]) -> tuple[list[str], list[EventMove]]:
        """`record_events` for many clips in one transaction (the relay's page): the ids of
        the clips moved, and the moves left undone because their events weren't built (None)
        though the clip has a target now (an endpoint added since the caller looked)."""
        now = utcnow()
        moved: list[str] = []
        deferred: list[EventMove] = []
        rows: list[dict[str, Any]] = []
        with write_lock(self.engine), self._session() as session:
            endpoints: dict[str, list[WebhookEndpoint]] = {}
            for endpoint in self._endpoints(session, {move.token_id for move in moves}):
                endpoints.setdefault(endpoint.token_id, []).append(endpoint)
            connection = session.connection()
            for move in moves:
                theirs = endpoints.get(move.token_id, [])
                if move.events is None and (move.webhook_url or theirs):
                    deferred.append(move)
                    continue
                step = {"gid": move.generation_id, "after": move.after, "last": move.last}
                if connection.execute(_MOVE, step).rowcount != 1:
                    continue
                moved.append(move.generation_id)
                rows += _delivery_rows(move, theirs, now)
            for start in range(0, len(rows), INSERT_ROWS):
                session.exec(
                    self._insert(WebhookDelivery)
                    .values(rows[start : start + INSERT_ROWS])
                    .on_conflict_do_nothing(index_elements=["generation_id", "target", "event"])
                )
            session.commit()
        return moved, deferred

    @staticmethod
    def _endpoints(session: Session, token_ids: Collection[str]) -> list[WebhookEndpoint]:
        """The enabled endpoints of these tokens (most tokens have none)."""
        return list(
            session.exec(
                select(WebhookEndpoint).where(
                    col(WebhookEndpoint.token_id).in_(sorted(token_ids)),
                    col(WebhookEndpoint.disabled_at).is_(None),
                )
            )
        )

    def clips_to_relay(
        self, *, changed_since: datetime | None, after_id: str = "", limit: int = 200
    ) -> list[ClipState]:
        """API clips whose events may not all be written yet (their last event not a final
        one), by generation id from `after_id`; with `changed_since`, only those whose row
        changed (or that were asked) since then. Only the columns `ClipState` names: a poll
        reads each clip of the last few seconds again, so it reads little of each."""
        query = (
            sa.select(
                col(ApiClip.generation_id),
                col(ApiClip.token_id),
                col(ApiClip.webhook_url),
                col(ApiClip.last_event),
                col(Generation.status),
                col(Generation.error),
                col(Generation.moderation),
                col(Generation.started_at),
            )
            .join_from(ApiClip, Generation, col(ApiClip.generation_id) == col(Generation.id))
            .where(sa.text(UNSETTLED_SQL))  # the partial index's own words
            .where(col(ApiClip.generation_id) > after_id)
            .where(sa.not_(STILL_QUEUED))
        )
        if changed_since is not None:
            query = query.where(
                sa.or_(
                    col(Generation.updated_at) >= changed_since,
                    col(ApiClip.created_at) >= changed_since,
                )
            )
        query = query.order_by(col(ApiClip.generation_id)).limit(limit)
        with self.engine.connect() as connection:
            return [ClipState(*found) for found in connection.execute(query)]

    def clips(self, generation_ids: Collection[str]) -> list[tuple[Generation, ApiClip]]:
        """These API clips' rows, whole (for the bodies of their events)."""
        if not generation_ids:
            return []
        query = (
            select(Generation, ApiClip)
            .join(ApiClip, col(ApiClip.generation_id) == col(Generation.id))
            .where(col(Generation.id).in_(sorted(generation_ids)))
        )
        with self._session() as session:
            return [(row, clip) for row, clip in session.exec(query).all()]
