"""Webhook endpoints: the URLs a token's clips' events go to, each with its own signing secret.

An endpoint is made with a fresh `whsec_` secret, returned once (`IssuedEndpoint`); it may ask
for some events only. Deleting one gives up its events still waiting; one disabled after a day
of failures (`gallery.webhook_outbox`) is turned back on by its token (`enable_endpoint`).
Methods are synchronous; async callers use `asyncio.to_thread`.
"""

from __future__ import annotations

import base64
import difflib
import re
import secrets
import string
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from core.errors import FlagError, UserFacingError
from gallery.apitables import UNDELIVERED_SQL, WebhookDelivery, WebhookEndpoint
from gallery.db import write_lock
from gallery.models import utcnow

EVENTS = (
    "clip.queued",
    "clip.started",
    "clip.held",
    "clip.succeeded",
    "clip.failed",
    "clip.cancelled",
)
FINAL_EVENTS = ("clip.succeeded", "clip.failed", "clip.cancelled")  # nothing follows them
REQUEST_TARGET = "request"  # the clip's own webhook_url, signed with its token's secret
SECRET_PREFIX = "whsec_"
SECRET_BYTES = 24
MAX_ENDPOINTS = 10  # per token
MAX_ERROR_CHARS = 500

__all__ = [
    "EVENTS",
    "FINAL_EVENTS",
    "MAX_ENDPOINTS",
    "REQUEST_TARGET",
    "IssuedEndpoint",
    "WebhookStore",
    "give_up_target",
    "new_secret",
    "parse_events",
]


def new_secret() -> str:
    """A signing secret: `whsec_` and the base64 of 24 random bytes (Standard Webhooks)."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def parse_events(words: Sequence[str]) -> tuple[str, ...]:
    """An endpoint's event filter as asked ("clip.succeeded", …), in EVENTS order; empty means
    every event. An unknown event is refused by name with the allowed ones."""
    for word in words:
        if word not in EVENTS:
            near = difflib.get_close_matches(word, EVENTS, n=1, cutoff=0.6)
            raise FlagError(
                f"`{word[:80]}` isn't a webhook event.",
                token=word,
                allowed=", ".join(EVENTS),
                suggestion=near[0] if near else None,
            )
    return tuple(e for e in EVENTS if e in set(words))


@dataclass(frozen=True)
class IssuedEndpoint:
    """An endpoint just made and its secret, shown once."""

    endpoint: WebhookEndpoint
    secret: str

    def __repr__(self) -> str:
        return f"IssuedEndpoint(id={self.endpoint.id!r})"


_ID_ALPHABET = string.ascii_lowercase + string.digits
_ENDPOINT_ID = re.compile(r"we_[a-z0-9]{20}")


def _new_endpoint_id() -> str:
    return "we_" + "".join(secrets.choice(_ID_ALPHABET) for _ in range(20))


def give_up_target(session: Session, target: str, now: datetime, why: str) -> None:
    """Give up every event still waiting for `target` (an endpoint deleted or disabled)."""
    session.exec(
        sa.update(WebhookDelivery)
        .where(col(WebhookDelivery.target) == target, sa.text(UNDELIVERED_SQL))
        .values(given_up_at=now, locked_until=None, last_error=why)
    )


class WebhookStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def _session(self) -> Session:
        return Session(self.engine, expire_on_commit=False)

    # --- endpoints ------------------------------------------------------------------------

    def create_endpoint(self, token_id: str, url: str, events: Sequence[str]) -> IssuedEndpoint:
        """A new endpoint of `token_id` (URL already checked by the caller)."""
        chosen = parse_events(events)
        with write_lock(self.engine), self._session() as session:
            count = session.exec(
                select(sa.func.count())
                .select_from(WebhookEndpoint)
                .where(col(WebhookEndpoint.token_id) == token_id)
            ).one()
            if count >= MAX_ENDPOINTS:
                raise UserFacingError(
                    f"A token has at most {MAX_ENDPOINTS} webhook endpoints; delete one first."
                )
            endpoint = WebhookEndpoint(
                id=_new_endpoint_id(),
                token_id=token_id,
                url=url,
                secret=new_secret(),
                events=" ".join(chosen),
            )
            session.add(endpoint)
            session.commit()
        return IssuedEndpoint(endpoint, endpoint.secret)

    def list_endpoints(self, token_id: str) -> list[WebhookEndpoint]:
        with self._session() as session:
            return list(
                session.exec(
                    select(WebhookEndpoint)
                    .where(col(WebhookEndpoint.token_id) == token_id)
                    .order_by(col(WebhookEndpoint.created_at), col(WebhookEndpoint.id))
                )
            )

    def get_endpoint(self, endpoint_id: str, token_id: str) -> WebhookEndpoint | None:
        """The token's endpoint, or None (another token's is as unknown as a missing one)."""
        if not _ENDPOINT_ID.fullmatch(endpoint_id):
            return None
        with self._session() as session:
            row = session.get(WebhookEndpoint, endpoint_id)
        return row if row is not None and row.token_id == token_id else None

    def delete_endpoint(self, endpoint_id: str, token_id: str) -> bool:
        """Delete the token's endpoint; its events still waiting are given up."""
        if not _ENDPOINT_ID.fullmatch(endpoint_id):
            return False
        now = utcnow()
        with write_lock(self.engine), self._session() as session:
            gone = session.exec(
                sa.delete(WebhookEndpoint).where(
                    col(WebhookEndpoint.id) == endpoint_id,
                    col(WebhookEndpoint.token_id) == token_id,
                )
            ).rowcount
            if gone:
                give_up_target(session, endpoint_id, now, "the endpoint was deleted")
            session.commit()
        return bool(gone)

    def enable_endpoint(self, endpoint_id: str, token_id: str) -> WebhookEndpoint | None:
        """Turn a disabled endpoint back on (its failure run forgotten); None if not the
        token's. Events given up while it was off stay given up."""
        if self.get_endpoint(endpoint_id, token_id) is None:
            return None
        with write_lock(self.engine), self._session() as session:
            session.exec(
                sa.update(WebhookEndpoint)
                .where(col(WebhookEndpoint.id) == endpoint_id)
                .values(disabled_at=None, disabled_reason="", failing_since=None)
            )
            session.commit()
        return self.get_endpoint(endpoint_id, token_id)
