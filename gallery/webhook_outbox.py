"""The durable webhook outbox: each event of an API clip, for each of its targets, kept until
a receiver answers 2xx or a day has passed.

Events are written by the relay (`gallery.webhook_events.EventWriter`, which `Outbox`
extends): each clip's once, in one transaction with the move of its `api_clip.last_event`. A
delivery is claimed with a lease (`claim_due`, a conditional UPDATE that PostgreSQL re-checks
under its row lock and SQLite runs alone), so a process killed mid-delivery leaves a row another
one retries once the lease ends; only the lowest `seq` still pending for a clip and target is
due, so a receiver gets a clip's events in order. Failures back off exponentially with jitter
for about a day; an endpoint failing for a day is disabled, its pending events given up, and
its owner named so they can be told. Methods are synchronous; async callers use `asyncio.to_thread`.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from gallery.apitables import UNDELIVERED_SQL, ApiToken, WebhookDelivery, WebhookEndpoint
from gallery.db import write_lock
from gallery.models import utcnow
from gallery.webhook_events import EventMove, EventWriter, NewEvent
from gallery.webhook_store import REQUEST_TARGET, give_up_target

MAX_ERROR_CHARS = 500

__all__ = ["Claimed", "Disabled", "EventMove", "NewEvent", "Outbox", "Retry"]


@dataclass(frozen=True)
class Retry:
    """How long failed deliveries wait: `first_s` doubling up to `cap_s`, each wait between
    half and all of that (jitter, so receivers coming back aren't hit by every sender at once);
    given up `give_up_after` after the event was written; an endpoint failing for
    `disable_after` is disabled. The defaults make about a day, tests make it seconds."""

    first_s: float = 5.0
    cap_s: float = 3600.0
    give_up_after: timedelta = timedelta(days=1)
    disable_after: timedelta = timedelta(days=1)

    def delay_s(self, attempts: int, rng: random.Random) -> float:
        full = min(self.cap_s, self.first_s * 2.0 ** max(0, attempts - 1))
        return full / 2 + rng.uniform(0, full / 2)


@dataclass(frozen=True)
class Claimed:
    """A delivery this process holds the lease of, with the secret that signs it."""

    id: str
    generation_id: str
    target: str
    url: str
    event: str
    payload: str
    attempts: int
    created_at: datetime
    secret: str
    member_id: str
    stopped: str | None = None  # why nothing more is sent (token revoked, endpoint gone or off)


@dataclass(frozen=True)
class Disabled:
    """An endpoint just disabled after a day of failures, and whom to tell."""

    endpoint_id: str
    url: str
    member_id: str


class Outbox(EventWriter):
    """The outbox: events written (`EventWriter`: the relay) and delivered (the delivery
    loop)."""

    def __init__(self, engine: Engine, retry: Retry | None = None) -> None:
        super().__init__(engine)
        self.retry = retry or Retry()

    # --- delivering (the delivery loop) -------------------------------------------------------

    def claim_due(
        self, *, limit: int = 50, lease: timedelta = timedelta(seconds=60)
    ) -> list[Claimed]:
        """Take the lease of up to `limit` due deliveries: pending, their time come, no live
        lease, and the first still pending of their clip and target. Returns those this call
        won (another process may win some of the same)."""
        now = utcnow()
        earlier = aliased(WebhookDelivery)
        blocked = (
            sa.select(sa.literal(1))
            .where(
                col(earlier.generation_id) == col(WebhookDelivery.generation_id),
                col(earlier.target) == col(WebhookDelivery.target),
                col(earlier.seq) < col(WebhookDelivery.seq),
                col(earlier.delivered_at).is_(None),
                col(earlier.given_up_at).is_(None),
            )
            .exists()
        )
        free = sa.or_(
            col(WebhookDelivery.locked_until).is_(None), col(WebhookDelivery.locked_until) <= now
        )
        with self._session() as session:
            ids = list(
                session.exec(
                    select(col(WebhookDelivery.id))
                    .where(sa.text(UNDELIVERED_SQL), col(WebhookDelivery.next_attempt_at) <= now)
                    .where(free, ~blocked)
                    .order_by(col(WebhookDelivery.next_attempt_at))
                    .limit(limit)
                )
            )
        if not ids:
            return []
        with write_lock(self.engine), self._session() as session:
            won = list(
                session.exec(
                    sa.update(WebhookDelivery)
                    .where(col(WebhookDelivery.id).in_(ids), sa.text(UNDELIVERED_SQL), free)
                    .values(locked_until=now + lease, attempts=col(WebhookDelivery.attempts) + 1)
                    .returning(col(WebhookDelivery.id))
                ).scalars()
            )
            session.commit()
        return self._claimed(won)

    def _claimed(self, ids: list[str]) -> list[Claimed]:
        if not ids:
            return []
        query = (
            select(WebhookDelivery, ApiToken, WebhookEndpoint)
            .join(ApiToken, col(ApiToken.id) == col(WebhookDelivery.token_id))
            .outerjoin(WebhookEndpoint, col(WebhookEndpoint.id) == col(WebhookDelivery.target))
            .where(col(WebhookDelivery.id).in_(ids))
            .order_by(col(WebhookDelivery.next_attempt_at))
        )
        with self._session() as session:
            found = session.exec(query).all()
        claimed = []
        for delivery, token, endpoint in found:
            stopped = None
            if delivery.target == REQUEST_TARGET:
                secret = token.webhook_secret
            elif endpoint is None:
                secret, stopped = "", "the endpoint was deleted"
            else:
                secret = endpoint.secret
                stopped = "the endpoint is turned off" if endpoint.disabled_at else None
            if token.revoked_at is not None:
                stopped = "the token was revoked"
            claimed.append(
                Claimed(
                    id=delivery.id,
                    generation_id=delivery.generation_id,
                    target=delivery.target,
                    url=delivery.url,
                    event=delivery.event,
                    payload=delivery.payload,
                    attempts=delivery.attempts,
                    created_at=delivery.created_at,
                    secret=secret,
                    member_id=token.member_id,
                    stopped=stopped,
                )
            )
        return claimed

    def mark_delivered(self, claimed: Claimed) -> None:
        """A 2xx came back: delivered; the endpoint's failure run, if any, is over."""
        self.mark_many_delivered([claimed])

    def mark_many_delivered(self, claims: Sequence[Claimed]) -> None:
        """`mark_delivered` for a burst of 2xx answers, in one transaction."""
        if not claims:
            return
        now = utcnow()
        endpoints = sorted({c.target for c in claims if c.target != REQUEST_TARGET})
        with write_lock(self.engine), self._session() as session:
            session.exec(
                sa.update(WebhookDelivery)
                .where(
                    col(WebhookDelivery.id).in_([c.id for c in claims]),
                    col(WebhookDelivery.delivered_at).is_(None),
                )
                .values(delivered_at=now, locked_until=None, last_error=None)
            )
            if endpoints:
                session.exec(
                    sa.update(WebhookEndpoint)
                    .where(
                        col(WebhookEndpoint.id).in_(endpoints),
                        col(WebhookEndpoint.failing_since).is_not(None),
                    )
                    .values(failing_since=None)
                )
            session.commit()

    def give_up(self, claimed: Claimed, error: str) -> None:
        """Never send this one again (its token was revoked, its endpoint deleted)."""
        with write_lock(self.engine), self._session() as session:
            session.exec(
                sa.update(WebhookDelivery)
                .where(col(WebhookDelivery.id) == claimed.id)
                .values(given_up_at=utcnow(), locked_until=None, last_error=error[:MAX_ERROR_CHARS])
            )
            session.commit()

    def record_failure(
        self, claimed: Claimed, error: str, rng: random.Random | None = None
    ) -> Disabled | None:
        """The attempt failed: try again later (backoff with jitter), or give up once the event
        is `give_up_after` old. An endpoint starts (or goes on) failing; one failing for
        `disable_after` is disabled here, its pending events given up, and returned (once, to
        the process that disabled it) so its owner can be told."""
        now = utcnow()
        error = error[:MAX_ERROR_CHARS]
        rng = rng or random.Random()
        disabled = None
        if now - claimed.created_at >= self.retry.give_up_after:
            outcome: dict[str, Any] = {"given_up_at": now}
        else:
            wait = timedelta(seconds=self.retry.delay_s(claimed.attempts, rng))
            outcome = {"next_attempt_at": now + wait}
        with write_lock(self.engine), self._session() as session:
            changed = session.exec(
                sa.update(WebhookDelivery)
                .where(col(WebhookDelivery.id) == claimed.id, sa.text(UNDELIVERED_SQL))
                .values(locked_until=None, last_error=error, **outcome)
            ).rowcount
            if changed and claimed.target != REQUEST_TARGET:
                disabled = self._endpoint_failed(session, claimed, now, error)
            session.commit()
        return disabled

    def _endpoint_failed(
        self, session: Session, claimed: Claimed, now: datetime, error: str
    ) -> Disabled | None:
        endpoint = WebhookEndpoint
        session.exec(
            sa.update(endpoint)
            .where(col(endpoint.id) == claimed.target, col(endpoint.failing_since).is_(None))
            .values(failing_since=now)
        )
        reason = f"failing since {{since}}; last error: {error}"
        row = session.get(endpoint, claimed.target)
        if row is None or row.disabled_at is not None or row.failing_since is None:
            return None
        if now - row.failing_since < self.retry.disable_after:
            return None
        turned_off = session.exec(
            sa.update(endpoint)
            .where(col(endpoint.id) == row.id, col(endpoint.disabled_at).is_(None))
            .values(
                disabled_at=now,
                disabled_reason=reason.format(
                    since=row.failing_since.isoformat(timespec="seconds")
                ),
            )
        ).rowcount
        if turned_off != 1:
            return None
        give_up_target(session, row.id, now, "the endpoint was disabled after a day failing")
        return Disabled(row.id, row.url, claimed.member_id)

    def deliveries(self, generation_id: str) -> list[WebhookDelivery]:
        """A clip's outbox rows, in order (what was sent where; for tests and operators)."""
        with self._session() as session:
            return list(
                session.exec(
                    select(WebhookDelivery)
                    .where(col(WebhookDelivery.generation_id) == generation_id)
                    .order_by(col(WebhookDelivery.target), col(WebhookDelivery.seq))
                )
            )
