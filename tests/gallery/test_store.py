"""GalleryStore against real SQLite and PostgreSQL databases, schema made by the migration."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from pydantic import ValidationError
from sqlmodel import col

from gallery.models import Generation, GenerationCreate, GenerationStatus, Member, Moderation
from gallery.store import (
    GalleryStore,
    InvalidCursor,
    decode_cursor,
    encode_cursor,
)
from tests.gallery.factories import add_done, generation, new_id


def _count(store: GalleryStore, table: type[Member] | type[Generation]) -> int:
    with store.engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


def test_add_generation_is_idempotent(store: GalleryStore) -> None:
    new = generation(seed=2**32 - 1, guild_id=2**62, channel_id=2**60 + 7)
    assert store.add_generation(new) is True
    assert store.add_generation(new) is False
    assert store.add_generation(generation(id=new.id, prompt="something else")) is False

    row = store.get(new.id)
    assert row is not None
    assert row.prompt == new.prompt  # the retry did not overwrite the first request
    assert row.status is GenerationStatus.QUEUED
    assert row.seed == 2**32 - 1 and row.guild_id == 2**62 and row.channel_id == 2**60 + 7
    assert row.spec["prompt"] == new.prompt
    assert row.created_at.tzinfo is not None
    assert _count(store, Generation) == 1
    assert _count(store, Member) == 1


def test_member_created_once_and_keeps_latest_name(store: GalleryStore) -> None:
    store.add_generation(generation(owner_id="discord:42", owner_name="old name"))
    store.add_generation(generation(owner_id="discord:42", owner_name="new name"))
    store.add_generation(generation(owner_id="discord:42", owner_name=""))
    with store.engine.connect() as conn:
        names = conn.execute(
            sa.select(col(Member.display_name)).where(col(Member.id) == "discord:42")
        )
        assert names.scalars().all() == ["new name"]


def test_a_batch_records_each_request_once_with_the_members_latest_name(
    store: GalleryStore,
) -> None:
    known = generation(owner_id="discord:7", owner_name="seven")
    assert store.add_generation(known)
    first = generation(owner_id="discord:42", owner_name="old name")
    batch = [
        first,
        generation(owner_id="discord:42", owner_name="new name"),
        generation(owner_id="discord:42", owner_name=""),
        generation(id=first.id, prompt="the same id again in one batch"),
        known,  # recorded before: an enqueue retried
        generation(owner_id="discord:8", owner_name=""),
        generation(owner_id="discord:9", parent_id=known.id),
    ]
    assert store.add_generations(batch) == [True, True, True, False, False, True, True]
    assert store.get(first.id).prompt == first.prompt  # type: ignore[union-attr]
    assert _count(store, Generation) == 6
    with store.engine.connect() as conn:
        names = dict(conn.execute(sa.select(col(Member.id), col(Member.display_name))).all())
    assert names["discord:42"] == "new name"
    assert names["discord:8"] == "" and names["discord:7"] == "seven"


def test_a_batch_with_a_missing_parent_records_nothing(store: GalleryStore) -> None:
    orphan = generation(parent_id=new_id())
    with pytest.raises(ValueError, match="does not exist"):
        store.add_generations([generation(), orphan])
    assert _count(store, Generation) == 0
    assert store.add_generations([]) == []


def test_producer_input_is_validated() -> None:
    with pytest.raises(ValidationError):
        generation(id="NOT-HEX")
    with pytest.raises(ValidationError):
        generation(owner_id="")  # every request belongs to someone
    with pytest.raises(ValidationError):
        generation(parent_id="../../etc")


def test_unknown_parent_is_refused(store: GalleryStore) -> None:
    with pytest.raises(ValueError, match="parent generation"):
        store.add_generation(generation(parent_id=new_id()))
    parent = add_done(store)
    child = generation(parent_id=parent)
    assert store.add_generation(child)
    row = store.get(child.id)
    assert row is not None and row.parent_id == parent


def test_done_exactly_once(store: GalleryStore) -> None:
    new = generation()
    store.add_generation(new)
    store.mark_rendering(new.id, worker="gpu-0", attempt=1)
    rendering = store.get(new.id)
    assert rendering is not None
    assert rendering.status is GenerationStatus.RENDERING and rendering.worker == "gpu-0"

    timings = {"render": 3.25, "encode": 0.5}
    assert store.mark_done(new.id, media_path="ab/x.mp4", size_bytes=4096, timings=timings)
    first = store.get(new.id)
    assert first is not None and first.finished_at is not None

    # A retried job finishes the same clip again: nothing changes, and it is told so.
    store.mark_rendering(new.id, worker="gpu-1", attempt=2)
    assert not store.mark_done(new.id, media_path="cd/y.mp4", size_bytes=1, timings={})
    again = store.get(new.id)
    assert again is not None
    assert again.status is GenerationStatus.DONE
    assert again.finished_at == first.finished_at
    assert (again.media_path, again.size_bytes, again.timings) == ("ab/x.mp4", 4096, timings)
    assert again.worker == "gpu-0" and again.attempts == 1
    assert not store.mark_done(new_id(), media_path="x", size_bytes=1, timings={})


def test_a_clip_the_output_scan_holds_is_never_public_and_keeps_a_moderators_decision(
    store: GalleryStore,
) -> None:
    held = generation()
    store.add_generation(held)
    assert store.mark_done(
        held.id, media_path="p.mp4", size_bytes=1, timings={}, moderation=Moderation.HELD
    )
    row = store.get(held.id)
    assert row is not None and (row.status, row.moderation) == ("done", "held")
    assert held.id not in [r.id for r in store.list_public()]

    hidden = generation()  # a moderator hid it while it rendered: it stays hidden, not held
    store.add_generation(hidden)
    store.set_moderation(hidden.id, Moderation.HIDDEN)
    assert store.mark_done(
        hidden.id, media_path="q.mp4", size_bytes=1, timings={}, moderation=Moderation.HELD
    )
    row = store.get(hidden.id)
    assert row is not None and (row.status, row.moderation) == ("done", "hidden")
    assert [r.id for r in store.list_public()] == []


def test_failed_never_overwrites_done(store: GalleryStore) -> None:
    done = add_done(store)
    store.mark_failed(done, error="worker died after upload")
    row = store.get(done)
    assert row is not None and row.status is GenerationStatus.DONE and row.error is None

    new = generation()
    store.add_generation(new)
    store.mark_rendering(new.id, worker="gpu-0", attempt=1)
    store.mark_failed(new.id, error="CUDA out of memory " * 1000)
    failed = store.get(new.id)
    assert failed is not None and failed.status is GenerationStatus.FAILED
    assert failed.error is not None and failed.error.startswith("CUDA out of memory")
    assert len(failed.error) <= 4000

    # A later retry that succeeds wins over the earlier failure.
    store.mark_rendering(new.id, worker="gpu-1", attempt=2)
    assert store.mark_done(new.id, media_path="p.mp4", size_bytes=1, timings={})
    recovered = store.get(new.id)
    assert recovered is not None
    assert recovered.status is GenerationStatus.DONE and recovered.error is None
    assert recovered.attempts == 2


def test_set_discord_message(store: GalleryStore) -> None:
    done = add_done(store)
    store.set_discord_message(done, 1_300_000_000_000_000_123)
    row = store.get(done)
    assert row is not None and row.discord_message_id == 1_300_000_000_000_000_123


def _set_finished(store: GalleryStore, ids: list[str], when: datetime) -> None:
    with store.engine.begin() as conn:
        conn.execute(
            sa.update(Generation).where(col(Generation.id).in_(ids)).values(finished_at=when)
        )


def _pages(store: GalleryStore, limit: int) -> list[list[str]]:
    pages: list[list[str]] = []
    before = None
    for _ in range(100):  # a cursor that does not advance must fail, not loop forever
        page = store.list_public(limit=limit, before=before)
        if not page:
            return pages
        pages.append([row.id for row in page])
        before = decode_cursor(encode_cursor(page[-1]))
    raise AssertionError(f"pagination did not end: {pages[:3]}")


def test_keyset_pagination_pages_through_everything_in_order(store: GalleryStore) -> None:
    ids = [add_done(store) for _ in range(30)]
    # Ten clips finishing in the same microsecond exercise the id tie-breaker.
    _set_finished(store, ids[5:15], datetime(2030, 1, 1, tzinfo=UTC))
    hidden = [add_done(store, hidden=True) for _ in range(3)]
    unfinished = generation()
    store.add_generation(unfinished)

    rows = {gid: store.get(gid) for gid in ids}
    expected = sorted(ids, key=lambda gid: (rows[gid].finished_at, gid), reverse=True)  # type: ignore[union-attr]

    pages = _pages(store, limit=7)
    assert [len(page) for page in pages] == [7, 7, 7, 7, 2]
    flat = [gid for page in pages for gid in page]
    assert flat == expected
    assert len(set(flat)) == 30
    assert not set(hidden) & set(flat)
    assert unfinished.id not in flat


def test_pagination_is_stable_while_new_clips_arrive(store: GalleryStore) -> None:
    old = [add_done(store) for _ in range(10)]
    first = store.list_public(limit=4)
    for _ in range(5):
        add_done(store)  # newer than everything already paged
    rest = store.list_public(limit=100, before=decode_cursor(encode_cursor(first[-1])))
    seen = [row.id for row in first + rest]
    assert sorted(seen) == sorted(old)
    assert len(seen) == len(set(seen)) == 10


def test_hidden_clips_are_never_listed(store: GalleryStore) -> None:
    hidden = add_done(store, hidden=True)
    public = add_done(store)
    listed = [row.id for row in store.list_public(limit=100)]
    assert listed == [public]
    row = store.get(hidden)
    assert row is not None and row.hidden and not row.is_public


def test_list_unfinished(store: GalleryStore) -> None:
    queued, rendering, failed = generation(), generation(), generation()
    for new in (queued, rendering, failed):
        store.add_generation(new)
    store.mark_rendering(rendering.id, worker="gpu-0", attempt=1)
    store.mark_failed(failed.id, error="boom")
    add_done(store)
    assert [row.id for row in store.list_unfinished()] == [queued.id, rendering.id]


def test_rows_are_usable_after_the_session_closes(store: GalleryStore) -> None:
    gid = add_done(store)
    rows = store.list_public()
    row = store.get(gid)
    assert row is not None and rows[0].timings == {"render": 0.5}
    assert row.duration_s == 2.0 and row.finished_at is not None


def test_list_public_refuses_silly_limits(store: GalleryStore) -> None:
    with pytest.raises(ValueError, match="limit"):
        store.list_public(limit=0)
    with pytest.raises(ValueError, match="limit"):
        store.list_public(limit=10_000)


def test_cursor_round_trip_and_garbage() -> None:
    row = Generation(
        id="ab" * 16,
        owner_id="cli:a",
        prompt="p",
        seed=1,
        width=8,
        height=8,
        num_frames=1,
        fps=8,
        finished_at=datetime(2031, 5, 6, 7, 8, 9, 123456, tzinfo=UTC),
    )
    assert decode_cursor(encode_cursor(row)) == (row.finished_at, row.id)

    def b64(text: str) -> str:
        return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")

    garbage = ["", "x", "!!!!", "a" * 500, b64("123"), b64("not-a-cursor")]
    garbage += [b64(f"{'9' * 20}.{row.id}"), b64(f"12.{'AB' * 16}"), b64(f"12.{row.id}\n")]
    for bad in garbage:
        with pytest.raises(InvalidCursor):
            decode_cursor(bad)


def test_from_spec_reads_a_job_contract_dict() -> None:
    """The producers hand over RenderSpec.model_dump(mode="json"); check the real contract."""
    from core.spec import RenderSpec

    spec = RenderSpec(
        prompt="a lighthouse at dusk",
        negative_prompt="text",
        aspect_ratio="16:9",
        width=768,
        height=432,
        num_frames=49,
        fps=24,
        steps=20,
        seed=4_000_000_000,
        camera="pan left",
        motion=3,
        hidden=True,
        owner_id="discord:99",
        owner_name="Robin",
        guild_id=2**60,
        channel_id=2**61,
    ).model_dump(mode="json")
    gid = new_id()
    new = GenerationCreate.from_spec(gid, spec)
    assert (new.id, new.owner_id, new.owner_name, new.seed) == (gid, "discord:99", "Robin", 4e9)
    assert (new.width, new.height, new.num_frames, new.fps) == (768, 432, 49, 24)
    assert (new.camera, new.motion, new.hidden, new.aspect_ratio) == ("pan left", 3, True, "16:9")
    assert new.spec == spec
