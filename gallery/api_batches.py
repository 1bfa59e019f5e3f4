"""Batches asked through the REST API: up to 100 clips in one call, fed into the queue in turn.

A batch is written with all its items at once, each item's request as it was read and screened
(`create`). The API's feeder then turns items into clips one member at a time, in order: it
claims the head of a member's line (`claim`), submits it as any clip is submitted, and marks it
`submitted` with its generation id or `refused` with the member's own words (`mark_submitted`,
`mark_refused`); an item that has to wait for a free place goes back (`release`).

Any number of API processes feed at once. The head of a member's line is the first item of
theirs not yet submitted or refused, and a claim is one conditional UPDATE of it, so of two
processes only one wins, and a member's next item can't be claimed while the one before it is
still being submitted: items keep their order. A claim whose process died lapses after the
lease, and its item is claimed again; the item's generation id is derived from the batch and
the position (`item_generation_id`), so submitting it a second time finds the clip already
there instead of making another.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from gallery.apitables import OPEN_ITEMS_SQL, ApiBatch, ApiBatchItem, ApiToken
from gallery.db import write_lock
from gallery.models import Generation, utcnow

MAX_ITEMS = 100
DEFAULT_LEASE = timedelta(seconds=60)
ItemState = Literal["waiting", "submitting", "submitted", "refused"]
OPEN_STATES = ("waiting", "submitting")
# Generation ids of batch items: uuid5 of "<batch id>:<position>" in this namespace.
_ITEM_NAMESPACE = uuid.UUID("6f1c3c52-5a0e-4d35-9a57-6a1f3f0b7e21")


def item_generation_id(batch_id: str, position: int) -> str:
    """The clip an item becomes, the same in every process and on every try."""
    return uuid.uuid5(_ITEM_NAMESPACE, f"{batch_id}:{position}").hex


def new_batch_id() -> str:
    return uuid.uuid4().hex


@dataclass(frozen=True)
class BatchView:
    """A batch, its items in order, and the generations those that were submitted became."""

    batch: ApiBatch
    items: list[ApiBatchItem]
    generations: dict[str, Generation]


@dataclass(frozen=True)
class ClaimedItem:
    """An item this process now submits: what it needs without reading the batch again."""

    batch_id: str
    position: int
    token_id: str
    member_id: str
    request: dict[str, Any]
    webhook_url: str | None

    @property
    def generation_id(self) -> str:
        return item_generation_id(self.batch_id, self.position)


class BatchStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def _session(self) -> Session:
        return Session(self.engine, expire_on_commit=False)

    # --- asking ---------------------------------------------------------------------------

    def create(
        self,
        token_id: str,
        requests: Sequence[dict[str, Any]],
        *,
        webhook_url: str | None = None,
        batch_id: str | None = None,
    ) -> ApiBatch:
        """Write a batch and all its items (waiting), in one transaction."""
        if not 1 <= len(requests) <= MAX_ITEMS:
            raise ValueError(f"a batch holds 1 to {MAX_ITEMS} clips, not {len(requests)}")
        now = utcnow()
        batch = ApiBatch(
            id=batch_id or new_batch_id(),
            token_id=token_id,
            size=len(requests),
            webhook_url=webhook_url,
            created_at=now,
        )
        with write_lock(self.engine), self._session() as session:
            session.add(batch)
            session.flush()  # the items' foreign key needs the batch first on PostgreSQL
            session.add_all(
                ApiBatchItem(
                    batch_id=batch.id, position=i, request=dict(r), state="waiting", updated_at=now
                )
                for i, r in enumerate(requests)
            )
            session.commit()
        return batch

    # --- reading --------------------------------------------------------------------------

    def get(self, batch_id: str) -> BatchView | None:
        """The batch with its items in order, and the generations of the submitted ones."""
        with self._session() as session:
            batch = session.get(ApiBatch, batch_id)
            if batch is None:
                return None
            items = list(
                session.exec(
                    select(ApiBatchItem)
                    .where(col(ApiBatchItem.batch_id) == batch_id)
                    .order_by(col(ApiBatchItem.position))
                ).all()
            )
            ids = [i.generation_id for i in items if i.generation_id]
            rows = session.exec(select(Generation).where(col(Generation.id).in_(ids))).all()
        return BatchView(batch, items, {row.id: row for row in rows})

    def _open(self, now: datetime, lease: timedelta) -> sa.ColumnElement[bool]:
        """Items someone may claim: waiting, or claimed by a process whose lease ran out. In
        the partial index's own words first, so the databases read only open items."""
        return sa.and_(
            sa.text(OPEN_ITEMS_SQL),
            sa.or_(
                col(ApiBatchItem.state) == "waiting",
                sa.and_(
                    col(ApiBatchItem.state) == "submitting",
                    col(ApiBatchItem.updated_at) < now - lease,
                ),
            ),
        )

    def waiting_members(
        self, *, now: datetime | None = None, lease: timedelta = DEFAULT_LEASE
    ) -> list[str]:
        """Members with items to claim, whose waiting started first first."""
        now = now or utcnow()
        statement = (
            select(col(ApiToken.member_id), sa.func.min(col(ApiBatch.created_at)))
            .join(ApiBatch, col(ApiBatch.token_id) == col(ApiToken.id))
            .join(ApiBatchItem, col(ApiBatchItem.batch_id) == col(ApiBatch.id))
            .where(self._open(now, lease))
            .group_by(col(ApiToken.member_id))
            .order_by(sa.func.min(col(ApiBatch.created_at)))
        )
        with self._session() as session:
            return [member for member, _ in session.exec(statement).all()]

    # --- feeding --------------------------------------------------------------------------

    def claim(
        self,
        member_id: str,
        *,
        limit: int = 1,
        now: datetime | None = None,
        lease: timedelta = DEFAULT_LEASE,
    ) -> list[ClaimedItem]:
        """Claim up to `limit` of the member's next items, in order, or none while another
        process is submitting the one before them (see the module's docstring)."""
        now = now or utcnow()
        statement = (
            select(ApiBatchItem, ApiBatch, ApiToken)
            .join(ApiBatch, col(ApiBatch.id) == col(ApiBatchItem.batch_id))
            .join(ApiToken, col(ApiToken.id) == col(ApiBatch.token_id))
            .where(
                col(ApiToken.member_id) == member_id,
                sa.text(OPEN_ITEMS_SQL),  # the partial index's own words: OPEN_STATES
            )
            .order_by(col(ApiBatch.created_at), col(ApiBatch.id), col(ApiBatchItem.position))
            .limit(max(1, limit))
        )
        with self._session() as session:  # read, then write in a transaction of its own
            line = list(session.exec(statement).all())
        claimed: list[ClaimedItem] = []
        with write_lock(self.engine), self._session() as session:
            for item, batch, token in line:
                if item.state == "submitting" and item.updated_at >= now - lease:
                    break  # another process is on it: the member's line waits for it
                moved = session.exec(
                    sa.update(ApiBatchItem)
                    .where(
                        col(ApiBatchItem.batch_id) == item.batch_id,
                        col(ApiBatchItem.position) == item.position,
                        self._open(now, lease),
                    )
                    .values(state="submitting", updated_at=now)
                ).rowcount
                if moved != 1:
                    break  # taken by another process since we read it
                claimed.append(
                    ClaimedItem(
                        batch_id=item.batch_id,
                        position=item.position,
                        token_id=token.id,
                        member_id=token.member_id,
                        request=dict(item.request),
                        webhook_url=batch.webhook_url,
                    )
                )
                session.commit()  # each claim stands alone: a later one failing keeps it
        return claimed

    def _finish(
        self, batch_id: str, position: int, *, states: Sequence[str], **values: Any
    ) -> bool:
        with write_lock(self.engine), self._session() as session:
            moved = session.exec(
                sa.update(ApiBatchItem)
                .where(
                    col(ApiBatchItem.batch_id) == batch_id,
                    col(ApiBatchItem.position) == position,
                    col(ApiBatchItem.state).in_(states),
                )
                .values(updated_at=utcnow(), **values)
            ).rowcount
            session.commit()
        return bool(moved)

    def mark_submitted(self, batch_id: str, position: int, generation_id: str) -> bool:
        """The item became clip `generation_id`; False if it was already final."""
        return self._finish(
            batch_id,
            position,
            states=OPEN_STATES,
            state="submitted",
            generation_id=generation_id,
            error=None,
        )

    def mark_refused(self, batch_id: str, position: int, error: str) -> bool:
        """The item won't become a clip; `error` is what its member reads. False if it was
        already final."""
        return self._finish(batch_id, position, states=OPEN_STATES, state="refused", error=error)

    def release(self, batch_id: str, position: int) -> bool:
        """A claimed item goes back to waiting (no place for it yet), first in its line."""
        return self._finish(batch_id, position, states=("submitting",), state="waiting")
