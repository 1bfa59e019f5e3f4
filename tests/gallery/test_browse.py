"""The gallery's public reads on SQLite and PostgreSQL: orders, keyset pages, search, lineage,
members, and that nothing non-public leaks into any of them."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import col

from gallery.browse import BrowseStore, Page, SearchQuery
from gallery.community import CommunityStore
from gallery.models import Generation, Moderation, utcnow
from gallery.paging import InvalidCursor, Period, Sort, hot_score
from gallery.store import GalleryStore
from tests.gallery.factories import add_done, generation


@pytest.fixture
def browse(engine: Engine) -> BrowseStore:
    return BrowseStore(engine)


@pytest.fixture
def community(engine: Engine) -> CommunityStore:
    return CommunityStore(engine)


def _set(store: GalleryStore, gid: str, **values: object) -> None:
    with store.engine.begin() as conn:
        conn.execute(sa.update(Generation).where(col(Generation.id) == gid).values(**values))


def _all_pages(browse: BrowseStore, sort: Sort, limit: int, **kwargs: object) -> list[str]:
    seen: list[str] = []
    cursor = None
    for _ in range(100):
        page = browse.clips(sort, limit=limit, cursor=cursor, **kwargs)  # type: ignore[arg-type]
        seen += [clip.id for clip in page.clips]
        cursor = page.next
        if cursor is None:
            return seen
    raise AssertionError("paging never ended")


def _hidden_variants(store: GalleryStore, community: CommunityStore, **overrides: object) -> set:
    """One clip for each way of not being public; returns their ids."""
    hidden = add_done(store, hidden=True, **overrides)
    deleted = add_done(store, **overrides)
    community.delete(deleted)
    queued = generation(**overrides)
    store.add_generation(queued)
    failed = generation(**overrides)
    store.add_generation(failed)
    store.mark_failed(failed.id, error="boom")
    moderated = set()
    for state in (Moderation.HELD, Moderation.HIDDEN, Moderation.REMOVED):
        gid = add_done(store, **overrides)
        assert store.set_moderation(gid, state)
        moderated.add(gid)
    return {hidden, deleted, queued.id, failed.id, *moderated}


def test_every_order_pages_through_every_public_clip_once(store, browse, community) -> None:
    ids = [add_done(store, prompt=f"clip {n}") for n in range(13)]
    hidden = _hidden_variants(store, community)
    for n, gid in enumerate(ids):
        for member in range(n % 4):
            community.like(gid, f"discord:{member}")
    for sort in Sort:
        for limit in (1, 4, 13, 100):
            seen = _all_pages(browse, sort, limit)
            assert sorted(seen) == sorted(ids), (sort, limit)
            assert not set(seen) & hidden
    rows = {gid: store.get(gid) for gid in ids}
    top = _all_pages(browse, Sort.TOP, 5)
    likes = [rows[gid].like_count for gid in top]
    assert likes == sorted(likes, reverse=True) and likes[0] == 3
    trending = _all_pages(browse, Sort.TRENDING, 5)
    scores = [rows[gid].hot_score for gid in trending]
    assert scores == sorted(scores, reverse=True)
    assert _all_pages(browse, Sort.NEW, 5) == list(reversed(ids))


def test_top_over_a_day_or_a_week(store, browse, community) -> None:
    now = utcnow()
    old, week, today = add_done(store), add_done(store), add_done(store)
    _set(store, old, finished_at=now - timedelta(days=30))
    _set(store, week, finished_at=now - timedelta(days=3))
    for member in range(3):
        community.like(old, f"discord:{member}")
    assert _all_pages(browse, Sort.TOP, 10, period=Period.DAY) == [today]
    assert _all_pages(browse, Sort.TOP, 10, period=Period.WEEK) == [today, week]
    assert _all_pages(browse, Sort.TOP, 10, period=Period.ALL) == [old, today, week]


def test_trending_score_follows_likes(store, community) -> None:
    gid = add_done(store)
    row = store.get(gid)
    assert row.hot_score == pytest.approx(hot_score(0, row.finished_at))
    for member in range(9):
        community.like(gid, f"discord:{member}")
    assert store.get(gid).hot_score == pytest.approx(hot_score(9, row.finished_at))
    assert hot_score(9, row.finished_at) == pytest.approx(hot_score(0, row.finished_at) + 1)
    community.unlike(gid, "discord:0")
    assert store.get(gid).hot_score == pytest.approx(hot_score(8, row.finished_at))
    later = row.finished_at + timedelta(seconds=45_000)
    assert hot_score(0, later) == pytest.approx(hot_score(9, row.finished_at))


def test_a_cursor_for_one_order_is_refused_by_another(store, browse) -> None:
    for _ in range(3):
        add_done(store)
    cursors = {sort: browse.clips(sort, limit=1).next for sort in Sort}
    for sort in Sort:
        for other, cursor in cursors.items():
            if other is not sort:
                with pytest.raises(InvalidCursor):
                    browse.clips(sort, cursor=cursor)


def test_set_moderation(store) -> None:
    gid = add_done(store)
    assert store.set_moderation(gid, "held")
    assert not store.set_moderation(gid, Moderation.HELD)  # no change
    assert store.get(gid).moderation is Moderation.HELD and not store.get(gid).is_public
    assert store.set_moderation(gid, "ok") and store.get(gid).is_public
    with pytest.raises(ValueError):
        store.set_moderation(gid, "banished")


def test_search_words_stems_and_filters(store, browse, community) -> None:
    fox = add_done(store, prompt="Two red foxes running through snow", camera="pan left")
    fox2 = add_done(store, prompt="a fox sleeping", camera="zoom in", aspect_ratio="9:16")
    whale = add_done(store, prompt="a whale in the running river", backend="ltx")
    hidden = _hidden_variants(store, community, prompt="a fox that must stay hidden")

    def found(**kwargs: object) -> list[str]:
        return [clip.id for clip in browse.search(SearchQuery(**kwargs)).clips]  # type: ignore[arg-type]

    assert found(text="fox") == [fox2, fox]  # stemmed: "foxes" matches, newest first
    assert found(text="RUNNING fox") == [fox]
    assert found(text="run") == [whale, fox]
    assert found(text="fox", camera="pan left") == [fox]
    assert found(text="fox", aspect_ratio="9:16") == [fox2]
    assert found(backend="ltx") == [whale]
    assert found(text="hidden") == []
    assert not set(found(text="fox")) & hidden
    # FTS / tsquery syntax in the input is only ever words.
    for hostile in ['"', "fox*", "NEAR(fox", "fox OR whale", "prompt:fox", "-fox", "')--", "^"]:
        assert set(found(text=hostile)) <= {fox, fox2, whale}, hostile
    assert found(text="!!!") == []
    page = browse.search(SearchQuery(text="fox"), limit=1)
    assert [c.id for c in page.clips] == [fox2] and page.next
    rest = browse.search(SearchQuery(text="fox"), limit=1, cursor=page.next)
    assert [c.id for c in rest.clips] == [fox] and rest.next is None


def test_lineage_both_ways_skips_what_is_not_public(store, browse) -> None:
    root = add_done(store, prompt="root")
    child = add_done(store, parent_id=root, prompt="child")
    hidden_child = add_done(store, parent_id=child, prompt="hidden child", hidden=True)
    grandchild = add_done(store, parent_id=hidden_child, prompt="grandchild")
    sibling = add_done(store, parent_id=child, prompt="sibling")
    removed = add_done(store, parent_id=child, prompt="removed")
    store.set_moderation(removed, "removed")

    lineage = browse.lineage(child)
    assert [c.id for c in lineage.ancestors] == [root]
    shown = {node.clip.id: [n.clip.id for n in node.children] for node in lineage.children}
    assert shown == {grandchild: [], sibling: []}  # lifted past the hidden clip

    tree = browse.lineage(root).children
    assert [n.clip.id for n in tree] == [child]
    assert sorted(n.clip.id for n in tree[0].children) == sorted([grandchild, sibling])
    assert [c.id for c in browse.lineage(grandchild).ancestors] == [root, child]
    assert browse.lineage(hidden_child).ancestors[-1].id == child


def test_member_profile_and_clips(store, browse, community) -> None:
    mine = [add_done(store, owner_id="discord:7", owner_name="Seven") for _ in range(3)]
    _hidden_variants(store, community, owner_id="discord:7", owner_name="Seven")
    add_done(store, owner_id="discord:8")
    community.like(mine[0], "discord:8")
    community.like(mine[1], "discord:8")
    profile = browse.member("discord:7")
    assert profile is not None
    assert (profile.display_name, profile.clips, profile.likes) == ("Seven", 3, 2)
    page = browse.member_clips("discord:7", limit=2)
    assert [c.id for c in page.clips] == mine[:0:-1] and page.names == {"discord:7": "Seven"}
    assert [c.id for c in browse.member_clips("discord:7", cursor=page.next).clips] == mine[:1]
    assert browse.member("discord:nobody") is None
    store.add_generation(generation(owner_id="discord:9"))  # only an unfinished request
    assert browse.member("discord:9") is None


def test_public_clip_and_counts(store, browse, community) -> None:
    gid = add_done(store, owner_name="Alice")
    hidden = _hidden_variants(store, community)
    assert browse.public_clip(gid) is not None and browse.public_clip(gid)[1] == "Alice"
    assert all(browse.public_clip(h) is None for h in hidden)
    counts, public = browse.status_counts()
    assert public == 1
    assert counts == {"queued": 1, "rendering": 0, "done": 6, "failed": 1}


def test_moderation_lists(store, browse, community) -> None:
    held = add_done(store)
    store.set_moderation(held, "held")
    member_hidden = add_done(store, hidden=True)
    deleted = add_done(store)
    community.delete(deleted)
    add_done(store)
    assert [c.id for c in browse.moderation_list("held").clips] == [held]
    assert [c.id for c in browse.moderation_list("member-hidden").clips] == [member_hidden]
    assert [c.id for c in browse.moderation_list("deleted").clips] == [deleted]
    assert browse.moderation_list("removed").clips == []
    with pytest.raises(ValueError):
        browse.moderation_list("everything")
    for _ in range(3):
        store.set_moderation(add_done(store), "hidden")
    first = browse.moderation_list("hidden", limit=2)
    rest = browse.moderation_list("hidden", limit=2, cursor=first.next)
    assert len(first.clips) == 2 and len(rest.clips) == 1 and rest.next is None


def test_page_type() -> None:
    assert Page([]).next is None and Page([]).names == {}
