"""gallery.api_clips on both databases: API clips noted once, idempotency keys claimed, finished,
dropped and forgotten after a day, a member's clips paged."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy.engine import Engine

from gallery.api_clips import CLAIM_LEASE, KEY_TTL, ApiClipNew, ApiClipStore
from gallery.db import make_engine, migrate
from gallery.models import utcnow
from gallery.paging import InvalidCursor
from gallery.store import GalleryStore
from tests.api.conftest import pg_admin_url, pg_database_url
from tests.gallery.factories import generation

__all__ = ["pg_admin_url", "pg_database_url"]


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path) -> Iterator[Engine]:
    url = f"sqlite:///{tmp_path / 'r.db'}"
    if request.param == "postgresql":
        url = request.getfixturevalue("pg_database_url")
    made = make_engine(url)
    migrate(made)
    yield made
    made.dispose()


def test_a_clip_is_noted_once_with_its_token_and_webhook(engine: Engine) -> None:
    gallery, clips = GalleryStore(engine), ApiClipStore(engine)
    rows = [generation(owner_id="discord:1") for _ in range(3)]
    gallery.add_generations(rows)
    assert clips.record(rows[0].id, "tok1", webhook_url="https://x.test/h")
    assert not clips.record(rows[0].id, "tok2")  # a retried submission changes nothing
    clips.record_many([ApiClipNew(r.id, "tok1", None, "b1") for r in rows[1:]] * 2)
    assert clips.get(rows[0].id).token_id == "tok1"
    assert clips.get(rows[0].id).webhook_url == "https://x.test/h"
    assert clips.get(rows[2].id).batch_id == "b1"
    assert clips.tokens_of([r.id for r in rows]) == {r.id: "tok1" for r in rows}
    found = clips.clip(rows[1].id)
    assert found is not None and found[0].id == rows[1].id and found[1].batch_id == "b1"


def test_an_idempotency_key_is_claimed_once_finished_dropped_and_forgotten(
    engine: Engine,
) -> None:
    clips = ApiClipStore(engine)
    assert clips.claim_key("tok", "k", "h1") is None  # ours now
    earlier = clips.claim_key("tok", "k", "h1")
    assert earlier is not None and (earlier.body_hash, earlier.resource) == ("h1", "")
    clips.finish_key("tok", "k", "clip:abc")
    assert clips.claim_key("tok", "k", "h2").resource == "clip:abc"
    assert clips.claim_key("other", "k", "h1") is None  # keys are per token
    clips.drop_key("other", "k")
    assert clips.claim_key("other", "k", "h9") is None  # dropped: judged afresh
    clips.drop_key("tok", "k")  # a finished key is never dropped
    assert clips.claim_key("tok", "k", "h1").resource == "clip:abc"
    assert clips.claim_key("x", "k", "h1") is None  # claimed, then its process died:
    assert clips.claim_key("x", "k", "h1").resource == ""  # in progress for a while,
    soon = utcnow() + CLAIM_LEASE + timedelta(seconds=1)
    assert clips.claim_key("x", "k", "h1", now=soon) is None  # then free to retry
    later = utcnow() + KEY_TTL + timedelta(minutes=1)
    assert clips.purge_keys(now=later) == 2  # "x" was claimed again, later
    assert clips.claim_key("tok", "k", "h3", now=later) is None


def test_a_members_clips_page_newest_first_and_bad_cursors_are_refused(engine: Engine) -> None:
    gallery, clips = GalleryStore(engine), ApiClipStore(engine)
    mine = [generation(owner_id="discord:1") for _ in range(5)]
    for row in mine:  # one at a time: each its own created_at
        gallery.add_generation(row)
    gallery.add_generation(generation(owner_id="discord:2"))
    first = clips.list_owned("discord:1", limit=2)
    second = clips.list_owned("discord:1", limit=2, cursor=first.next)
    third = clips.list_owned("discord:1", limit=2, cursor=second.next)
    ids = [g.id for page in (first, second, third) for g, _ in page.clips]
    assert ids == [r.id for r in reversed(mine)] and third.next is None
    for bad in ("", "bm9wZQ", "x" * 200):
        with pytest.raises(InvalidCursor):
            clips.list_owned("discord:1", cursor=bad)
