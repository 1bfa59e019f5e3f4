"""REST API tokens: made, checked, listed and revoked, each creation and revocation audited.

A token is `rb_<id>_<secret>`: the id finds the row, the secret proves it. Only the SHA-256 of
the secret is stored and it is compared in constant time, so neither a leaked database nor a
timing probe yields a working token. The plaintext exists once, in `IssuedToken`, for the
caller to show; nothing here logs it. Audit rows (`moderation_action`) name the token's id and
name, never its secret.

`verify` runs on every API request (1,000/s and more), so it is one primary-key read; the
`last_used_at` it keeps is written at most once a minute per token (remembered in memory, and
the UPDATE is conditional so several API processes don't each write it every minute either).
Methods are synchronous; async callers use `asyncio.to_thread`.
"""

from __future__ import annotations

import base64
import difflib
import hashlib
import hmac
import re
import secrets
import string
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from core.errors import FlagError, UserFacingError
from gallery.apitables import ApiToken
from gallery.db import write_lock
from gallery.models import ModerationAction, utcnow

SCOPES = ("clips:read", "clips:write", "webhooks:manage")
PREFIX = "rb"
ID_LENGTH = 12
SECRET_BYTES = 32  # token_urlsafe(32) is 43 characters
SECRET_LENGTH = 43
WEBHOOK_SECRET_BYTES = 24
MAX_NAME = 64
# How stale `last_used_at` may be: writing it on every request would make reads writes.
LAST_USED_EVERY = timedelta(minutes=1)

_ID_ALPHABET = string.ascii_lowercase + string.digits
_TOKEN = re.compile(rf"{PREFIX}_([a-z0-9]{{{ID_LENGTH}}})_([A-Za-z0-9_-]{{{SECRET_LENGTH}}})")
# Compared against when the id is unknown, so a miss costs what a hit costs.
_DUMMY_HASH = hashlib.sha256(b"no such token").hexdigest()


@dataclass(frozen=True)
class IssuedToken:
    """A token just made: its row and the plaintext, which is shown once and never again."""

    token: ApiToken
    plaintext: str

    def __repr__(self) -> str:  # a stray log line or traceback must not print the secret
        return f"IssuedToken(token_id={self.token.id!r}, plaintext='rb_…')"


def parse_scopes(text: str) -> tuple[str, ...]:
    """Scopes written by a member ("clips:write clips:read", commas allowed), in SCOPES order.

    An unknown scope is refused by name with the allowed ones, never silently dropped."""
    words = [w for w in re.split(r"[\s,]+", text.strip()) if w]
    if not words:
        raise FlagError("Name at least one scope.", allowed=_allowed())
    for word in words:
        if word.lower() not in SCOPES:
            near = difflib.get_close_matches(word.lower(), SCOPES, n=1, cutoff=0.6)
            raise FlagError(
                f"`{word[:80]}` isn't a token scope.",
                token=word,
                allowed=_allowed(),
                suggestion=near[0] if near else None,
            )
    chosen = {w.lower() for w in words}
    return tuple(s for s in SCOPES if s in chosen)


def scopes_of(token: ApiToken) -> tuple[str, ...]:
    """The scopes a stored token carries."""
    return tuple(token.scopes.split())


def _allowed() -> str:
    return ", ".join(f"`{s}`" for s in SCOPES)


def _check_name(name: str) -> str:
    name = " ".join(name.split())
    if not name:
        raise UserFacingError("Give the token a name, e.g. `my-site`, so you can tell it apart.")
    if len(name) > MAX_NAME:
        raise UserFacingError(
            f"The token's name is {len(name)} characters long; the limit is {MAX_NAME}."
        )
    return name


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _new_id() -> str:
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(ID_LENGTH))


def new_webhook_secret() -> str:
    """A Standard Webhooks signing secret: `whsec_` and base64 of 24 random bytes."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(WEBHOOK_SECRET_BYTES)).decode()


class TokenStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._last_written: dict[str, datetime] = {}
        self._lock = threading.Lock()

    def _session(self) -> Session:
        return Session(self.engine, expire_on_commit=False)

    def create(
        self,
        member_id: str,
        guild_id: int | None,
        name: str,
        scopes: tuple[str, ...] | list[str],
        created_by: str,
    ) -> IssuedToken:
        """A new token for `member_id`, and its audit row, in one transaction."""
        name = _check_name(name)
        scope_text = " ".join(parse_scopes(" ".join(scopes)))
        secret = secrets.token_urlsafe(SECRET_BYTES)
        with write_lock(self.engine), self._session() as session:
            while True:  # 36^12 ids: a collision is all but impossible, but cheap to rule out
                token_id = _new_id()
                if session.get(ApiToken, token_id) is None:
                    break
            row = ApiToken(
                id=token_id,
                member_id=member_id,
                guild_id=guild_id,
                name=name,
                scopes=scope_text,
                secret_hash=_hash(secret),
                webhook_secret=new_webhook_secret(),
                created_by=created_by,
            )
            session.add(row)
            session.add(
                _audit(
                    "api_token_create",
                    row,
                    by=created_by,
                    reason=f"token {token_id} “{name}” scopes: {scope_text}",
                )
            )
            session.commit()
        return IssuedToken(row, f"{PREFIX}_{token_id}_{secret}")

    def verify(self, plaintext: str, *, touch: bool = True) -> ApiToken | None:
        """The live token `plaintext` is, or None (malformed, unknown, wrong secret, revoked).
        Its `last_used_at` is kept unless `touch` is False (the caller does it, `touch_many`)."""
        return self.verify_many([plaintext], touch=touch)[0]

    def verify_many(
        self, plaintexts: Sequence[str], *, touch: bool = True
    ) -> list[ApiToken | None]:
        """`verify` for a burst of requests' tokens, read in one query."""
        asked = [_TOKEN.fullmatch(text.strip()) if len(text) < 128 else None for text in plaintexts]
        ids = sorted({match[1] for match in asked if match is not None})
        rows: dict[str, ApiToken] = {}
        if ids:
            with self._session() as session:
                found = session.exec(select(ApiToken).where(col(ApiToken.id).in_(ids)))
                rows = {row.id: row for row in found}
        live: list[ApiToken | None] = []
        for match in asked:
            row = rows.get(match[1]) if match is not None else None
            stored = row.secret_hash if row is not None else _DUMMY_HASH
            secret = match[2] if match is not None else ""
            if not hmac.compare_digest(_hash(secret), stored) or row is None:
                live.append(None)
            else:
                live.append(row if row.revoked_at is None else None)
        if touch:
            self.touch_many([row for row in live if row is not None])
        return live

    def touch_many(self, rows: Sequence[ApiToken]) -> None:
        """Keep these tokens' `last_used_at`, written at most once per LAST_USED_EVERY per
        token, those due in one transaction (a burst of tokens first seen this minute)."""
        now = utcnow()
        due: dict[str, ApiToken] = {}
        with self._lock:
            for row in rows:
                last = self._last_written.get(row.id)
                if last is not None and now - last < LAST_USED_EVERY:
                    continue
                self._last_written[row.id] = now
                if row.last_used_at is None or now - row.last_used_at >= LAST_USED_EVERY:
                    due[row.id] = row  # else another process wrote it lately
        if not due:
            return
        stale = now - LAST_USED_EVERY
        with write_lock(self.engine), self._session() as session:
            session.exec(
                sa.update(ApiToken)
                .where(
                    col(ApiToken.id).in_(sorted(due)),
                    sa.or_(
                        col(ApiToken.last_used_at).is_(None), col(ApiToken.last_used_at) < stale
                    ),
                )
                .values(last_used_at=now)
            )
            session.commit()
        for row in due.values():
            row.last_used_at = now

    def get(self, token_id: str) -> ApiToken | None:
        with self._session() as session:
            return session.get(ApiToken, token_id)

    def list_for(self, member_id: str) -> list[ApiToken]:
        """A member's tokens, revoked ones included, newest first."""
        statement = (
            select(ApiToken)
            .where(col(ApiToken.member_id) == member_id)
            .order_by(col(ApiToken.created_at).desc(), col(ApiToken.id))
        )
        with self._session() as session:
            return list(session.exec(statement).all())

    def list_all(self, guild_id: int | None = None) -> list[ApiToken]:
        """Every token (in one guild if given), newest first: for operators and moderators."""
        statement = select(ApiToken)
        if guild_id is not None:
            statement = statement.where(col(ApiToken.guild_id) == guild_id)
        statement = statement.order_by(col(ApiToken.created_at).desc(), col(ApiToken.id))
        with self._session() as session:
            return list(session.exec(statement).all())

    def revoke(self, token_id: str, *, by: str, only_member: str | None = None) -> ApiToken | None:
        """Revoke a token; the row as it now stands, or None if there is no such token (or it
        isn't `only_member`'s, when given: a member revokes only their own).

        Revoking a revoked token changes nothing and writes no audit row; the row returned keeps
        its first `revoked_at` and `revoked_by`."""
        with write_lock(self.engine), self._session() as session:
            row = session.get(ApiToken, token_id.strip().lower())
            if row is None or (only_member is not None and row.member_id != only_member):
                return None
            now = utcnow()
            changed = session.exec(
                sa.update(ApiToken)
                .where(col(ApiToken.id) == row.id, col(ApiToken.revoked_at).is_(None))
                .values(revoked_at=now, revoked_by=by)
            ).rowcount
            if changed:
                row.revoked_at, row.revoked_by = now, by
                session.add(
                    _audit(
                        "api_token_revoke",
                        row,
                        by=by,
                        reason=f"token {row.id} “{row.name}”",
                    )
                )
            session.commit()
            session.refresh(row)
        with self._lock:
            self._last_written.pop(row.id, None)
        return row


def _audit(action: str, row: ApiToken, *, by: str, reason: str) -> ModerationAction:
    return ModerationAction(
        guild_id=row.guild_id,
        moderator_id=by,
        action=action,
        target_member_id=row.member_id,
        reason=reason,
    )
