"""BatchStore on SQLite and PostgreSQL: batches written whole, fed one member's line in order,
claims that two processes can't both win, and a lapsed claim taken up again."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from gallery.api_batches import BatchStore, item_generation_id
from gallery.apitables import ApiToken
from gallery.models import utcnow
from gallery.store import GalleryStore
from tests.gallery.factories import generation


def _token(engine: Engine, token_id: str, member_id: str) -> None:
    with Session(engine) as session:
        session.add(
            ApiToken(
                id=token_id,
                member_id=member_id,
                name="site",
                secret_hash="0" * 64,
                webhook_secret="whsec_x",
                created_by=member_id,
            )
        )
        session.commit()


@pytest.fixture
def batches(engine: Engine) -> BatchStore:
    _token(engine, "tokalice00001", "discord:1")
    _token(engine, "tokalice00002", "discord:1")  # a second token of the same member
    _token(engine, "tokbobbb00001", "discord:2")
    return BatchStore(engine)


def _requests(n: int, tag: str = "") -> list[dict[str, object]]:
    return [{"prompt": f"{tag}clip {i}", "seed": i} for i in range(n)]


def test_a_batch_is_read_back_with_its_items_in_order(batches: BatchStore) -> None:
    made = batches.create("tokalice00001", _requests(3), webhook_url="https://example.com/h")
    view = batches.get(made.id)
    assert view is not None
    assert (view.batch.size, view.batch.webhook_url) == (3, "https://example.com/h")
    assert [i.request["prompt"] for i in view.items] == ["clip 0", "clip 1", "clip 2"]
    assert {i.state for i in view.items} == {"waiting"}
    assert [i.generation_id for i in view.items] == [None, None, None]
    assert batches.get("nosuchbatch") is None


def test_a_batch_has_one_to_a_hundred_clips(batches: BatchStore) -> None:
    with pytest.raises(ValueError, match="1 to 100"):
        batches.create("tokalice00001", [])
    with pytest.raises(ValueError, match="1 to 100"):
        batches.create("tokalice00001", _requests(101))


def test_a_members_items_are_claimed_in_order_one_line_across_batches_and_tokens(
    batches: BatchStore,
) -> None:
    first = batches.create("tokalice00001", _requests(2, "a"))
    second = batches.create("tokalice00002", _requests(2, "b"))
    seen = []
    while claimed := batches.claim("discord:1"):
        (item,) = claimed
        assert item.member_id == "discord:1"
        seen.append(item.request["prompt"])
        assert batches.mark_submitted(item.batch_id, item.position, item.generation_id)
    assert seen == ["aclip 0", "aclip 1", "bclip 0", "bclip 1"]
    view = batches.get(second.id)
    assert view is not None
    assert [i.generation_id for i in view.items] == [
        item_generation_id(second.id, 0),
        item_generation_id(second.id, 1),
    ]
    assert item_generation_id(first.id, 0) != item_generation_id(second.id, 0)


def test_nothing_is_claimed_while_the_item_before_is_being_submitted(
    batches: BatchStore,
) -> None:
    made = batches.create("tokalice00001", _requests(3))
    (head,) = batches.claim("discord:1")
    assert head.position == 0
    assert batches.claim("discord:1", limit=3) == []  # another process: the line waits
    assert batches.mark_submitted(made.id, 0, head.generation_id)
    assert [i.position for i in batches.claim("discord:1", limit=5)] == [1, 2]


def test_a_lapsed_claim_is_claimed_again_as_the_same_clip(batches: BatchStore) -> None:
    made = batches.create("tokalice00001", _requests(1))
    (head,) = batches.claim("discord:1")
    later = utcnow() + timedelta(minutes=5)
    assert batches.waiting_members() == []  # its claim is fresh: nothing for anyone else
    assert batches.waiting_members(now=later) == ["discord:1"]
    (again,) = batches.claim("discord:1", now=later)
    assert (again.batch_id, again.position) == (made.id, 0)
    assert again.generation_id == head.generation_id


def test_a_released_item_goes_back_to_the_head_of_its_line(batches: BatchStore) -> None:
    made = batches.create("tokalice00001", _requests(3))
    claimed = batches.claim("discord:1", limit=2)
    for item in reversed(claimed):
        assert batches.release(item.batch_id, item.position)
    assert not batches.release(made.id, 2)  # never claimed: nothing to give back
    assert [i.position for i in batches.claim("discord:1", limit=3)] == [0, 1, 2]


def test_a_refused_item_says_why_and_stays_refused(batches: BatchStore) -> None:
    made = batches.create("tokalice00001", _requests(2))
    (head,) = batches.claim("discord:1")
    assert batches.mark_refused(made.id, 0, "You've made 20 clips today.")
    assert not batches.mark_submitted(made.id, 0, head.generation_id)
    view = batches.get(made.id)
    assert view is not None
    assert (view.items[0].state, view.items[0].error) == ("refused", "You've made 20 clips today.")
    assert view.items[0].generation_id is None
    assert [i.position for i in batches.claim("discord:1")] == [1]


def test_members_waiting_are_listed_by_when_their_batch_came(batches: BatchStore) -> None:
    bob = batches.create("tokbobbb00001", _requests(1))
    batches.create("tokalice00002", _requests(1))
    assert batches.waiting_members() == ["discord:2", "discord:1"]
    (item,) = batches.claim("discord:2")
    batches.mark_submitted(bob.id, 0, item.generation_id)
    assert batches.waiting_members() == ["discord:1"]


def test_the_batch_shows_the_generations_its_items_became(
    batches: BatchStore, store: GalleryStore
) -> None:
    made = batches.create("tokalice00001", _requests(2))
    (item,) = batches.claim("discord:1")
    store.add_generation(generation(id=item.generation_id, owner_id="discord:1"))
    batches.mark_submitted(made.id, 0, item.generation_id)
    view = batches.get(made.id)
    assert view is not None
    assert list(view.generations) == [item.generation_id]
    assert view.generations[item.generation_id].owner_id == "discord:1"
