"""API tokens on SQLite and PostgreSQL: made once, stored as a hash, checked, revoked, audited."""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine

import gallery.api_tokens as api_tokens
from core.errors import FlagError, UserFacingError
from gallery.api_tokens import SCOPES, TokenStore, parse_scopes
from gallery.models import utcnow
from gallery.moderation import ModerationStore

MEMBER = "discord:42"
OTHER = "discord:43"
MOD = "discord:9"


@pytest.fixture
def tokens(engine: Engine) -> TokenStore:
    return TokenStore(engine)


def _dump(engine: Engine) -> str:
    """Every value in the token and audit tables, as text."""
    with engine.connect() as conn:
        rows = [*conn.execute(sa.text("SELECT * FROM api_token"))]
        rows += [*conn.execute(sa.text("SELECT * FROM moderation_action"))]
    return " ".join(str(v) for row in rows for v in row)


def test_a_token_is_shown_once_stored_as_a_hash_and_verifies(
    tokens: TokenStore, engine: Engine
) -> None:
    issued = tokens.create(MEMBER, 7, "my-site", ("clips:write", "clips:read"), created_by=MEMBER)

    match = re.fullmatch(r"rb_([a-z0-9]{12})_([A-Za-z0-9_-]{43})", issued.plaintext)
    assert match is not None
    token_id, secret = match.groups()
    row = issued.token
    assert (row.id, row.member_id, row.guild_id, row.name) == (token_id, MEMBER, 7, "my-site")
    assert row.scopes == "clips:read clips:write"
    assert re.fullmatch(r"whsec_[A-Za-z0-9+/]{32}", row.webhook_secret)
    stored = _dump(engine)
    assert secret not in stored and issued.plaintext not in stored
    assert hashlib.sha256(secret.encode()).hexdigest() in stored
    assert issued.plaintext not in repr(issued) and secret not in repr(issued)

    verified = tokens.verify(issued.plaintext)
    assert verified is not None and verified.id == token_id and verified.member_id == MEMBER


def test_two_tokens_differ(tokens: TokenStore) -> None:
    a = tokens.create(MEMBER, None, "a", ["clips:read"], created_by=MEMBER)
    b = tokens.create(MEMBER, None, "a", ["clips:read"], created_by=MEMBER)
    assert a.plaintext != b.plaintext and a.token.id != b.token.id
    assert a.token.webhook_secret != b.token.webhook_secret


def test_wrong_malformed_unknown_and_revoked_tokens_do_not_verify(tokens: TokenStore) -> None:
    issued = tokens.create(MEMBER, 7, "site", ["clips:read"], created_by=MEMBER)
    token_id = issued.token.id
    wrong_secret = issued.plaintext[:-1] + ("A" if issued.plaintext[-1] != "A" else "B")
    unknown_id = f"rb_{'0' * 12}_{issued.plaintext.split('_', 2)[2]}"
    for bad in (
        "",
        "rb_",
        "Bearer " + issued.plaintext,
        issued.plaintext + "x",
        wrong_secret,
        unknown_id,
        issued.plaintext.upper(),
        "x" * 10_000,
    ):
        assert tokens.verify(bad) is None, bad

    revoked = tokens.revoke(token_id, by=MEMBER)
    assert revoked is not None and revoked.revoked_at is not None
    assert tokens.verify(issued.plaintext) is None


def test_secrets_are_compared_in_constant_time(
    tokens: TokenStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both a wrong secret and an unknown id go through hmac.compare_digest."""
    issued = tokens.create(MEMBER, 7, "site", ["clips:read"], created_by=MEMBER)
    calls: list[tuple[Any, Any]] = []
    real = api_tokens.hmac.compare_digest

    def spy(a: Any, b: Any) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(api_tokens.hmac, "compare_digest", spy)
    secret = issued.plaintext.split("_", 2)[2]
    assert tokens.verify(issued.plaintext[:-1] + ("A" if secret[-1] != "A" else "B")) is None
    assert tokens.verify(f"rb_{'0' * 12}_{secret}") is None
    assert tokens.verify(issued.plaintext) is not None
    assert len(calls) == 3


def test_create_and_revoke_write_audit_rows_without_the_secret(
    tokens: TokenStore, engine: Engine
) -> None:
    issued = tokens.create(MEMBER, 7, "my-site", ["clips:write"], created_by=MOD)
    tokens.revoke(issued.token.id, by=MOD)
    tokens.revoke(issued.token.id, by=MEMBER)  # already revoked: no second row

    log = ModerationStore(engine).log(member_id=MEMBER)
    assert [(r.action, r.moderator_id, r.guild_id) for r in log] == [
        ("api_token_revoke", MOD, 7),
        ("api_token_create", MOD, 7),
    ]
    assert all(issued.token.id in r.reason and "my-site" in r.reason for r in log)
    assert "clips:write" in log[1].reason
    assert issued.plaintext.split("_", 2)[2] not in _dump(engine)


def test_a_member_revokes_only_their_own(tokens: TokenStore) -> None:
    mine = tokens.create(MEMBER, 7, "mine", ["clips:read"], created_by=MEMBER)
    theirs = tokens.create(OTHER, 7, "theirs", ["clips:read"], created_by=OTHER)

    assert tokens.revoke(theirs.token.id, by=MEMBER, only_member=MEMBER) is None
    assert tokens.verify(theirs.plaintext) is not None
    assert tokens.revoke("nosuchtoken1", by=MEMBER) is None

    done = tokens.revoke(mine.token.id, by=MEMBER, only_member=MEMBER)
    assert done is not None and done.revoked_by == MEMBER
    first = done.revoked_at
    again = tokens.revoke(mine.token.id, by=MOD)  # a second revoke keeps the first's record
    assert again is not None and (again.revoked_at, again.revoked_by) == (first, MEMBER)


def test_lists_name_tokens_newest_first_revoked_included(tokens: TokenStore) -> None:
    first = tokens.create(MEMBER, 7, "first", ["clips:read"], created_by=MEMBER)
    second = tokens.create(MEMBER, None, "second", ["clips:read"], created_by=MEMBER)
    other = tokens.create(OTHER, 8, "other", ["clips:read"], created_by=OTHER)
    tokens.revoke(first.token.id, by=MEMBER)

    mine = tokens.list_for(MEMBER)
    assert {t.name for t in mine} == {"first", "second"}
    assert mine[0].created_at >= mine[1].created_at
    assert [t.revoked_at is not None for t in mine if t.name == "first"] == [True]
    assert {t.id for t in tokens.list_all()} == {first.token.id, second.token.id, other.token.id}
    assert [t.id for t in tokens.list_all(guild_id=8)] == [other.token.id]
    assert tokens.get(second.token.id) is not None
    assert tokens.get("nosuchtoken1") is None


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[datetime]]:
    now = [utcnow()]
    monkeypatch.setattr(api_tokens, "utcnow", lambda: now[0])
    yield now


def test_last_used_is_written_at_most_once_a_minute(
    tokens: TokenStore, engine: Engine, clock: list[datetime]
) -> None:
    issued = tokens.create(MEMBER, 7, "busy", ["clips:read"], created_by=MEMBER)
    writes: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().upper().startswith("UPDATE"):
            writes.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        for _ in range(200):
            assert tokens.verify(issued.plaintext) is not None
        assert len(writes) == 1
        first = tokens.get(issued.token.id)
        assert first is not None and first.last_used_at is not None

        clock[0] += timedelta(seconds=30)
        assert tokens.verify(issued.plaintext) is not None
        assert len(writes) == 1

        clock[0] += timedelta(seconds=31)
        assert tokens.verify(issued.plaintext) is not None
        assert len(writes) == 2
        later = tokens.get(issued.token.id)
        assert later is not None and later.last_used_at is not None
        assert later.last_used_at - first.last_used_at >= timedelta(seconds=60)

        # A second API process (its own memory) sees a fresh last_used_at and writes nothing.
        assert TokenStore(engine).verify(issued.plaintext) is not None
        assert len(writes) == 2
    finally:
        event.remove(engine, "before_cursor_execute", count)


def test_no_log_line_carries_the_token(
    tokens: TokenStore, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    issued = tokens.create(MEMBER, 7, "site", ["clips:read"], created_by=MEMBER)
    tokens.verify(issued.plaintext)
    tokens.verify(issued.plaintext[:-2])
    tokens.revoke(issued.token.id, by=MEMBER)
    secret = issued.plaintext.split("_", 2)[2]
    assert secret not in caplog.text


def test_names_are_checked(tokens: TokenStore) -> None:
    with pytest.raises(UserFacingError, match="Give the token a name"):
        tokens.create(MEMBER, 7, "   ", ["clips:read"], created_by=MEMBER)
    with pytest.raises(UserFacingError, match="limit is 64"):
        tokens.create(MEMBER, 7, "x" * 65, ["clips:read"], created_by=MEMBER)
    with pytest.raises(FlagError, match="clips:delete"):
        tokens.create(MEMBER, 7, "site", ["clips:delete"], created_by=MEMBER)
    assert tokens.list_for(MEMBER) == []


# --- scopes (no database) ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "scopes"),
    [
        ("clips:write clips:read", ("clips:read", "clips:write")),
        ("clips:read, clips:read", ("clips:read",)),
        ("  webhooks:manage\tCLIPS:WRITE ", ("clips:write", "webhooks:manage")),
        (" ".join(SCOPES), SCOPES),
    ],
)
def test_scopes_are_read_in_a_fixed_order(text: str, scopes: tuple[str, ...]) -> None:
    assert parse_scopes(text) == scopes


def test_an_unknown_scope_is_named_with_the_allowed_ones() -> None:
    with pytest.raises(FlagError) as caught:
        parse_scopes("clips:read clips:wrte")
    message = str(caught.value)
    assert "`clips:wrte` isn't a token scope." in message
    assert "Did you mean `clips:write`?" in message
    assert "Allowed: `clips:read`, `clips:write`, `webhooks:manage`." in message
    assert caught.value.token == "clips:wrte"

    with pytest.raises(FlagError, match=r"Name at least one scope\. Allowed: `clips:read`"):
        parse_scopes("  ")
    with pytest.raises(FlagError, match="`admin` isn't a token scope") as no_near:
        parse_scopes("admin")
    assert no_near.value.suggestion is None
