"""Likes, deletions, lineage and member defaults, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.engine import Engine

from gallery.community import CommunityStore
from gallery.models import utcnow
from gallery.store import GalleryStore
from tests.gallery.factories import add_done, generation


@pytest.fixture
def community(engine: Engine) -> CommunityStore:
    return CommunityStore(engine)


def test_a_like_counts_once_per_member_and_can_be_taken_back(store, community) -> None:
    gid = add_done(store)
    assert community.like(gid, "discord:1", "Bob")
    assert not community.like(gid, "discord:1", "Bob")
    assert community.like(gid, "discord:2")
    assert store.get(gid).like_count == 2
    assert community.unlike(gid, "discord:1")
    assert not community.unlike(gid, "discord:1")
    assert store.get(gid).like_count == 1


def test_a_deleted_clip_leaves_the_public_feed_and_is_deleted_once(store, community) -> None:
    kept, gone = add_done(store), add_done(store)
    assert community.delete(gone)
    assert not community.delete(gone)
    assert [g.id for g in store.list_public()] == [kept]
    assert not store.get(gone).is_public


def test_a_clip_is_found_by_its_discord_message(store, community) -> None:
    gid = add_done(store)
    store.set_discord_message(gid, 1234567890123456789)
    assert community.by_message(1234567890123456789).id == gid
    assert community.by_message(42) is None


def test_children_are_the_remixes_of_a_clip(store: GalleryStore, community) -> None:
    parent = add_done(store)
    child = add_done(store, parent_id=parent)
    add_done(store)
    assert [g.id for g in community.children(parent)] == [child]


def test_member_defaults_are_kept(community) -> None:
    assert community.default_flags("discord:7") == ""
    community.set_default_flags("discord:7", "-ar 9:16 -motion 2", "Carol")
    assert community.default_flags("discord:7") == "-ar 9:16 -motion 2"
    community.set_default_flags("discord:7", "")
    assert community.default_flags("discord:7") == ""


def test_many_members_defaults_are_read_together_in_the_order_asked(community) -> None:
    community.set_default_flags("discord:1", "-ar 9:16", "Ann")
    community.set_default_flags("discord:3", "-motion 4", "Cy")
    asked = ["discord:3", "discord:2", "discord:1", "discord:3"]
    assert community.default_flags_of(asked) == ["-motion 4", "", "-ar 9:16", "-motion 4"]
    assert community.default_flags_of([]) == []


def test_usage_and_unfinished_are_per_member(store, community) -> None:
    add_done(store, owner_id="discord:1")
    waiting = generation(owner_id="discord:1")
    store.add_generation(waiting)
    store.add_generation(generation(owner_id="discord:2"))
    assert community.count_since("discord:1", utcnow() - timedelta(hours=1)) == 2
    assert community.count_since("discord:1", utcnow() + timedelta(seconds=5)) == 0
    assert [g.id for g in community.unfinished_of("discord:1")] == [waiting.id]


def test_guild_clips_by_new_and_top_leave_out_hidden_deleted_and_other_servers(
    store, community
) -> None:
    old = add_done(store, guild_id=1)
    new = add_done(store, guild_id=1)
    add_done(store, guild_id=1, hidden=True)
    community.delete(add_done(store, guild_id=1))
    add_done(store, guild_id=2)
    community.like(old, "discord:9")
    assert [g.id for g in community.guild_clips(1, order="new")] == [new, old]
    assert [g.id for g in community.guild_clips(1, order="top")] == [old, new]
    assert [g.id for g in community.guild_clips(1, order="new", limit=1, offset=1)] == [old]
    with pytest.raises(ValueError):
        community.guild_clips(1, order="random")
