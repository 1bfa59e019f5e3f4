"""The moderation store on SQLite and PostgreSQL: audit rows, reports, bans, clip states."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.engine import Engine

from gallery.models import Moderation, utcnow
from gallery.moderation import ModerationStore
from gallery.store import GalleryStore
from tests.gallery.factories import add_done, generation


@pytest.fixture
def moderation(engine: Engine) -> ModerationStore:
    return ModerationStore(engine)


def test_audit_rows_come_back_newest_first_per_guild_and_member(
    store: GalleryStore, moderation: ModerationStore
) -> None:
    clip = add_done(store, owner_id="discord:2")
    moderation.record("ban", moderator_id="discord:9", guild_id=1, target_member_id="discord:2")
    moderation.record(
        "hide", moderator_id="discord:9", guild_id=1, target_generation_id=clip, reason="spam"
    )
    moderation.record("ban", moderator_id="discord:9", guild_id=1, target_member_id="discord:3")
    moderation.record("ban", moderator_id="discord:9", guild_id=7, target_member_id="discord:2")

    assert [r.action for r in moderation.log(guild_id=1)] == ["ban", "hide", "ban"]
    about_2 = moderation.log(guild_id=1, member_id="discord:2")
    assert [(r.action, r.reason) for r in about_2] == [("hide", "spam"), ("ban", "")]
    assert len(moderation.log(guild_id=1, limit=1)) == 1
    assert all(r.created_at.tzinfo is not None for r in about_2)


def test_transition_moves_a_clip_once(store: GalleryStore, moderation: ModerationStore) -> None:
    clip = add_done(store)
    assert moderation.transition(clip, [Moderation.OK], Moderation.HIDDEN)
    assert not moderation.transition(clip, [Moderation.OK], Moderation.HIDDEN)
    assert clip not in [row.id for row in store.list_public()]
    assert not moderation.transition(clip, [Moderation.HELD], Moderation.OK)  # not held
    assert moderation.transition(clip, ["hidden", "removed"], "ok")
    assert clip in [row.id for row in store.list_public()]


def test_reports_count_distinct_members_and_dismissed_ones_stop_counting(
    store: GalleryStore, moderation: ModerationStore
) -> None:
    clip = add_done(store)
    assert moderation.report(clip, "discord:1") == (True, 1)
    assert moderation.report(clip, "discord:1") == (False, 1)  # the same member again
    assert moderation.report(clip, "discord:2", "not ok") == (True, 2)
    assert moderation.dismiss_reports(clip) == 2
    assert moderation.report_count(clip) == 0
    assert moderation.report(clip, "discord:1") == (False, 0)  # dismissed stays dismissed
    assert moderation.report(clip, "discord:3") == (True, 1)


def test_unfinished_or_unknown_clips_cannot_be_reported(
    store: GalleryStore, moderation: ModerationStore
) -> None:
    queued = generation()
    store.add_generation(queued)
    assert moderation.report(queued.id, "discord:1") == (False, 0)
    assert moderation.report("0" * 32, "discord:1") == (False, 0)


def test_bans_expire_and_unban_lifts_them(moderation: ModerationStore) -> None:
    now = utcnow()
    moderation.ban("discord:2", 1, created_by="discord:9", until=now + timedelta(hours=1))
    assert moderation.active_ban("discord:2", 1) is not None
    assert moderation.active_ban("discord:2", 5) is None  # another guild
    assert moderation.active_ban("discord:2", None) is not None  # DMs: any guild's ban
    assert moderation.active_ban("discord:2", 1, now=now + timedelta(hours=2)) is None

    permanent = moderation.ban("discord:2", 1, created_by="discord:9", reason="again")
    assert permanent.until is None
    assert moderation.active_ban("discord:2", 1, now=now + timedelta(days=900)) is not None
    assert moderation.unban("discord:2", 1)
    assert not moderation.unban("discord:2", 1)
    assert moderation.active_ban("discord:2", 1) is None


def test_bans_of_many_members_are_read_together(moderation: ModerationStore) -> None:
    now = utcnow()
    moderation.ban("discord:2", 1, created_by="discord:9", until=now + timedelta(hours=1))
    moderation.ban("discord:2", 3, created_by="discord:9", reason="for good")
    moderation.ban("discord:4", 1, created_by="discord:9", until=now - timedelta(hours=1))
    asks = [("discord:2", 1), ("discord:2", 5), ("discord:2", None), ("discord:4", 1), ("x", 1)]
    bans = moderation.active_bans(asks, now=now)
    assert [b is not None for b in bans] == [True, False, True, False, False]
    assert bans[0].guild_id == 1
    assert bans[2].reason == "for good"  # from DMs: the longest ban in any guild
    assert bans == [moderation.active_ban(m, g, now=now) for m, g in asks]


def test_purge_hides_every_clip_of_one_member(
    store: GalleryStore, moderation: ModerationStore
) -> None:
    mine = [add_done(store, owner_id="discord:2") for _ in range(3)]
    other = add_done(store, owner_id="discord:3")
    hidden = moderation.hide_all_of("discord:2")
    assert sorted(r.id for r in hidden) == sorted(mine)
    assert [r.id for r in store.list_public()] == [other]
    assert moderation.hide_all_of("discord:2") == []
