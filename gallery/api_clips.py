"""Clips asked through the REST API: which token asked (`ApiClip`), the `Idempotency-Key`s
tokens used (`ApiIdempotency`), and a member's own clips, page by page.

An idempotency key is claimed before the request does anything (`claim_key`): the first
request with a key inserts it with an empty `resource`, fills it in once the clip exists
(`finish_key`) or gives it up if the request was refused (`drop_key`), so a retry after a
refusal is judged afresh. Keys are kept `KEY_TTL` (24 h); an older one counts as unused, and so
does one left "in progress" past `CLAIM_LEASE` by a process that died.

A member's list (`list_owned`) is every clip of theirs, from Discord or the API, newest first,
paged by keyset on (created_at, id) over `ix_generation_owner_created`: one index range per
page however deep, and a clip made while someone pages never shifts a page.
Methods are synchronous; async callers use `asyncio.to_thread`.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from core.ids import GENERATION_ID_PATTERN
from gallery.apitables import ApiClip, ApiIdempotency, WebhookEndpoint
from gallery.db import write_lock
from gallery.models import Generation, Moderation, utcnow
from gallery.paging import EPOCH, InvalidCursor, bounded

KEY_TTL = timedelta(hours=24)
# A key still "in progress" this long after it was claimed belongs to a request whose process
# died: a retry may claim it (no request takes this long to be answered).
CLAIM_LEASE = timedelta(minutes=5)
MAX_LIMIT = 100
# The last event of a clip with no webhook target when it is noted: its queued event, sent to no
# one (the webhook relay moves it on from there as the clip changes).
NO_ONE_TOLD = "clip.queued"
_CURSOR = re.compile(rf"mine:([0-9]{{1,19}}):({GENERATION_ID_PATTERN})")


@dataclass(frozen=True)
class OwnedPage:
    """A page of a member's clips (with their API rows, where the API asked for them) and
    the cursor of the next page (None: this was the last)."""

    clips: list[tuple[Generation, ApiClip | None]]
    next: str | None


@dataclass(frozen=True)
class ApiClipNew:
    """A clip the API asked for, to be noted (`ApiClipStore.record_many`)."""

    generation_id: str
    token_id: str
    webhook_url: str | None = None
    batch_id: str | None = None


def encode_owned_cursor(row: Generation) -> str:
    micros = (row.created_at - EPOCH) // timedelta(microseconds=1)
    raw = f"mine:{micros}:{row.id}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_owned_cursor(cursor: str) -> tuple[datetime, str]:
    if not cursor or len(cursor) > 100:
        raise InvalidCursor("cursor has the wrong length")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise InvalidCursor("cursor is not valid base64") from exc
    match = _CURSOR.fullmatch(raw)
    if match is None:
        raise InvalidCursor("cursor is not a position in a member's clips")
    try:
        moment = EPOCH + timedelta(microseconds=bounded(match[1]))
    except OverflowError as exc:
        raise InvalidCursor("cursor time is out of range") from exc
    return moment, match[2]


def _with_endpoints(token_ids: Sequence[str]) -> Any:
    """Those of these tokens with an enabled webhook endpoint."""
    return (
        sa.select(col(WebhookEndpoint.token_id))
        .where(
            col(WebhookEndpoint.token_id).in_(token_ids),
            col(WebhookEndpoint.disabled_at).is_(None),
        )
        .distinct()
    )


def _insert(engine: Engine) -> Any:
    return postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert


class ApiClipStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._insert = _insert(engine)

    def _session(self) -> Session:
        return Session(self.engine, expire_on_commit=False)

    # --- the clips ------------------------------------------------------------------------

    def record(
        self,
        generation_id: str,
        token_id: str,
        *,
        webhook_url: str | None = None,
        batch_id: str | None = None,
    ) -> bool:
        """Note that `token_id` asked for the generation (which must exist); False if it was
        noted already (a retried submission)."""
        statement = (
            self._insert(ApiClip)
            .values(
                generation_id=generation_id,
                token_id=token_id,
                webhook_url=webhook_url,
                batch_id=batch_id,
                last_event="",
                created_at=utcnow(),
            )
            .on_conflict_do_nothing(index_elements=["generation_id"])
            .returning(col(ApiClip.generation_id))  # rowcount can't tell on PostgreSQL
        )
        with write_lock(self.engine), self.engine.begin() as conn:
            return conn.execute(statement).first() is not None

    def record_many(self, clips: Sequence[ApiClipNew]) -> None:
        """`record` for a burst of clips in one transaction (one executemany).

        A clip with nowhere to send its events (no webhook_url, no enabled endpoint on its
        token: most clips) is noted as told it is queued, as the webhook relay would note it
        with no one to tell, so the relay's poll never reads it until its row changes."""
        if not clips:
            return
        now = utcnow()
        statement = self._insert(ApiClip).on_conflict_do_nothing(index_elements=["generation_id"])
        asking = sorted({c.token_id for c in clips if not c.webhook_url})
        with write_lock(self.engine), self.engine.begin() as conn:
            targeted = set()
            if asking:
                targeted = set(conn.execute(_with_endpoints(asking)).scalars())
            rows = [
                {
                    "generation_id": c.generation_id,
                    "token_id": c.token_id,
                    "webhook_url": c.webhook_url,
                    "batch_id": c.batch_id,
                    "last_event": "" if c.webhook_url or c.token_id in targeted else NO_ONE_TOLD,
                    "created_at": now,
                }
                for c in clips
            ]
            conn.execute(statement, rows)

    def get(self, generation_id: str) -> ApiClip | None:
        with self._session() as session:
            return session.get(ApiClip, generation_id)

    def clip(self, generation_id: str) -> tuple[Generation, ApiClip | None] | None:
        """A generation in any state and its API row (None when Discord or the terminal asked
        for it), in one query; None when there is no such generation."""
        statement = (
            select(Generation, ApiClip)
            .join(ApiClip, col(ApiClip.generation_id) == col(Generation.id), isouter=True)
            .where(col(Generation.id) == generation_id)
        )
        with self._session() as session:
            found = session.exec(statement).first()
        if found is None:
            return None
        row, api_clip = found
        return row, api_clip

    def children(self, generation_id: str, *, viewer: str, limit: int = 100) -> list[str]:
        """Ids of clips made from this one that `viewer` (a member id) may see: every one not
        hidden, deleted or kept by moderators, and the viewer's own, oldest first."""
        visible = sa.and_(
            col(Generation.hidden).is_(False),
            col(Generation.deleted_at).is_(None),
            col(Generation.moderation) == Moderation.OK,
        )
        statement = (
            select(col(Generation.id))
            .where(
                col(Generation.parent_id) == generation_id,
                sa.or_(visible, col(Generation.owner_id) == viewer),
            )
            .order_by(col(Generation.created_at), col(Generation.id))
            .limit(limit)
        )
        with self._session() as session:
            return list(session.exec(statement).all())

    def list_owned(self, owner_id: str, *, limit: int = 24, cursor: str | None = None) -> OwnedPage:
        """The member's clips (not deleted), newest first, after `cursor`."""
        if not 1 <= limit <= MAX_LIMIT:
            raise ValueError(f"limit={limit} must be between 1 and {MAX_LIMIT}")
        statement = (
            select(Generation, ApiClip)
            .join(ApiClip, col(ApiClip.generation_id) == col(Generation.id), isouter=True)
            .where(col(Generation.owner_id) == owner_id, col(Generation.deleted_at).is_(None))
            .order_by(col(Generation.created_at).desc(), col(Generation.id).desc())
            .limit(limit + 1)
        )
        if cursor is not None:
            key = sa.tuple_(col(Generation.created_at), col(Generation.id))
            statement = statement.where(key < decode_owned_cursor(cursor))
        with self._session() as session:
            rows: list[tuple[Generation, ApiClip | None]] = list(session.exec(statement).all())
        more = len(rows) > limit
        rows = rows[:limit]
        return OwnedPage(rows, encode_owned_cursor(rows[-1][0]) if more and rows else None)

    # --- idempotency keys ------------------------------------------------------------------

    def claim_key(
        self, token_id: str, key: str, body_hash: str, *, now: datetime | None = None
    ) -> ApiIdempotency | None:
        """None: the key is the caller's now (new, or older than KEY_TTL); else the row an
        earlier request made with it (`resource` empty while that one is still running)."""
        now = now or utcnow()
        mine = sa.and_(col(ApiIdempotency.token_id) == token_id, col(ApiIdempotency.key) == key)
        insert = (
            self._insert(ApiIdempotency)
            .values(token_id=token_id, key=key, body_hash=body_hash, resource="", created_at=now)
            .on_conflict_do_nothing(index_elements=["token_id", "key"])
            .returning(col(ApiIdempotency.key))  # rowcount can't tell on PostgreSQL
        )
        with write_lock(self.engine), self.engine.begin() as conn:
            expired = col(ApiIdempotency.created_at) < now - KEY_TTL
            abandoned = sa.and_(
                col(ApiIdempotency.resource) == "",
                col(ApiIdempotency.created_at) < now - CLAIM_LEASE,
            )
            conn.execute(sa.delete(ApiIdempotency).where(mine, sa.or_(expired, abandoned)))
            if conn.execute(insert).first() is not None:
                return None
            found = conn.execute(sa.select(ApiIdempotency).where(mine)).one()
        return ApiIdempotency(**found._mapping)

    def finish_key(self, token_id: str, key: str, resource: str) -> None:
        """The request that claimed the key made `resource` ("clip:<id>")."""
        self._set_key(token_id, key, resource)

    def drop_key(self, token_id: str, key: str) -> None:
        """The request that claimed the key was refused: a retry is judged afresh."""
        statement = sa.delete(ApiIdempotency).where(
            col(ApiIdempotency.token_id) == token_id,
            col(ApiIdempotency.key) == key,
            col(ApiIdempotency.resource) == "",
        )
        with write_lock(self.engine), self.engine.begin() as conn:
            conn.execute(statement)

    def _set_key(self, token_id: str, key: str, resource: str) -> None:
        statement = (
            sa.update(ApiIdempotency)
            .where(col(ApiIdempotency.token_id) == token_id, col(ApiIdempotency.key) == key)
            .values(resource=resource)
        )
        with write_lock(self.engine), self.engine.begin() as conn:
            conn.execute(statement)

    def purge_keys(self, *, now: datetime | None = None) -> int:
        """Forget keys older than KEY_TTL; how many went."""
        cutoff = (now or utcnow()) - KEY_TTL
        statement = sa.delete(ApiIdempotency).where(col(ApiIdempotency.created_at) < cutoff)
        with write_lock(self.engine), self.engine.begin() as conn:
            return int(conn.execute(statement).rowcount)

    def tokens_of(self, generation_ids: Sequence[str]) -> dict[str, str]:
        """Which token asked for each of these generations (those the API asked for)."""
        if not generation_ids:
            return {}
        statement = select(col(ApiClip.generation_id), col(ApiClip.token_id)).where(
            col(ApiClip.generation_id).in_(list(generation_ids))
        )
        with self._session() as session:
            return {g: t for g, t in session.exec(statement).all()}
