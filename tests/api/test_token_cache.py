"""Tokens are checked through a cache that keeps an answer for a second: a token revoked by
another process (Discord's /api revoke, `reelbot token revoke`) is refused within the second,
never later, and the cache holds no token's text."""

from __future__ import annotations

import asyncio
from pathlib import Path

from api.tokencache import TOKEN_TTL_S, VerifiedTokens
from gallery.api_tokens import TokenStore
from gallery.db import make_engine, migrate
from tests.api.conftest import Api


class Clock:
    """Monotonic seconds, moved by the test."""

    def __init__(self) -> None:
        self.seconds = 1000.0

    def __call__(self) -> float:
        return self.seconds


def stores(tmp_path: Path) -> tuple[TokenStore, TokenStore]:
    """The API process's store and another process's, on one database."""
    engine = make_engine(f"sqlite:///{tmp_path / 'reelbot.db'}")
    migrate(engine)
    return TokenStore(engine), TokenStore(make_engine(f"sqlite:///{tmp_path / 'reelbot.db'}"))


async def test_a_revoked_token_is_refused_within_the_ttl_never_later(tmp_path: Path) -> None:
    mine, elsewhere = stores(tmp_path)
    issued = mine.create("discord:1", 42, "site", ("clips:read",), created_by="discord:1")
    clock = Clock()
    tokens = VerifiedTokens(mine, clock=clock)
    assert TOKEN_TTL_S == 1.0

    token = await tokens.verify(issued.plaintext)
    assert token is not None and token.member_id == "discord:1"
    elsewhere.revoke(issued.token.id, by="discord:1")
    clock.seconds += TOKEN_TTL_S * 0.9
    assert await tokens.verify(issued.plaintext) is not None  # the answer read before it
    clock.seconds += TOKEN_TTL_S * 0.1
    assert await tokens.verify(issued.plaintext) is None
    clock.seconds += 3600
    assert await tokens.verify(issued.plaintext) is None


async def test_a_burst_of_checks_reads_once_and_keeps_no_text(tmp_path: Path) -> None:
    mine, _ = stores(tmp_path)
    issued = mine.create("discord:1", 42, "site", ("clips:read",), created_by="discord:1")
    reads: list[str] = []
    verify_many = mine.verify_many

    def counted(plaintexts: list[str], **options: bool) -> object:
        reads.extend(plaintexts)
        return verify_many(plaintexts, **options)

    mine.verify_many = counted  # type: ignore[method-assign,assignment]
    tokens = VerifiedTokens(mine, clock=Clock())
    found = await asyncio.gather(*(tokens.verify(issued.plaintext) for _ in range(20)))
    assert {t.id for t in found if t is not None} == {issued.token.id} and len(reads) == 1
    assert await tokens.verify(issued.plaintext + "x") is None  # a wrong secret: its own entry
    assert issued.plaintext not in repr(tokens.cache._entries)


async def test_a_revoked_token_is_a_401_once_the_second_is_up(api: Api) -> None:
    clock = Clock()
    api.ctx.verified_tokens = VerifiedTokens(api.ctx.tokens, clock=clock)
    plaintext = api.issue()
    assert (await api.call("GET", "/v1/clips", token=plaintext)).status == 200
    api.ctx.tokens.revoke(plaintext.split("_")[1], by="discord:1")
    clock.seconds += TOKEN_TTL_S
    answer = await api.call("GET", "/v1/clips", token=plaintext)
    assert answer.status == 401 and "revoked" in answer.detail


async def test_tokens_checked_together_are_read_and_noted_together(tmp_path: Path) -> None:
    mine, elsewhere = stores(tmp_path)
    issued = [
        mine.create(f"discord:{n}", 42, "site", ("clips:read",), created_by="cli:test")
        for n in range(5)
    ]
    elsewhere.revoke(issued[4].token.id, by="discord:4")
    tokens = VerifiedTokens(mine, clock=Clock())
    asked = [i.plaintext for i in issued] + ["rb_nope", issued[0].plaintext[:-1] + "x"]
    found = await asyncio.gather(*(tokens.verify(text) for text in asked))
    assert [t.id if t else None for t in found] == [i.token.id for i in issued[:4]] + [None] * 3
    seen = [elsewhere.get(i.token.id) for i in issued]  # as `reelbot token list` reads them
    assert [row is not None and row.last_used_at is not None for row in seen] == [True] * 4 + [
        False
    ]
