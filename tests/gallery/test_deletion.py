"""Deleting a clip deletes its files — the clip, its copies, its stills, its contact sheet and the
inputs sent for it — on disk and in the bucket; files a live remix still uses stay until the last
user goes; a purge's clips go after the grace period unless a moderator shows them again. For the
local folder and for a bucket (moto's S3 server)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from gallery.community import CommunityStore
from gallery.deletion import PURGE_GRACE, delete_clip, expire_purged
from gallery.media import KINDS, LocalMediaStore
from gallery.mediastore import make_media_store
from gallery.models import Moderation, utcnow
from gallery.moderation import ModerationStore
from gallery.s3media import S3MediaStore
from gallery.store import GalleryStore
from gallery.visibility import change_moderation, hide_member, place
from tests.gallery.factories import add_done, new_id
from tests.harness.buckets import new_bucket, objects, s3_endpoint, s3_settings

__all__ = ["s3_endpoint"]  # a fixture

ALL = sorted(KINDS - {"input.mov", "input.webm", "input.mkv"})  # one input video is enough


@pytest.fixture(params=["local", "s3"])
def media(request: pytest.FixtureRequest, tmp_path: Path) -> LocalMediaStore:
    if request.param == "local":
        return LocalMediaStore(tmp_path / "media")
    endpoint = request.getfixturevalue("s3_endpoint")
    bucket = new_bucket(endpoint, tmp_path / "setup")
    public = f"{endpoint}/{bucket}/public"
    return make_media_store(s3_settings(endpoint, tmp_path / "m", bucket, s3_public_url=public))


@pytest.fixture
def community(sqlite_store: GalleryStore) -> CommunityStore:
    return CommunityStore(sqlite_store.engine)


def files(media: LocalMediaStore, gid: str) -> list[str]:
    """Every trace of a clip: files on this machine's disk, and objects in the bucket."""
    local = sorted(p.name for p in media.root.rglob(f"{gid}*"))
    return local + (objects(media, gid) if isinstance(media, S3MediaStore) else [])


def add_clip(
    store: GalleryStore, media: LocalMediaStore, *, inputs: tuple[str, ...] = (), **more: Any
) -> str:
    """A finished clip with a file of every kind, its spec naming `inputs` as input media."""
    gid = new_id()
    for kind in ALL:
        media.save_bytes(gid, f"{kind} of {gid}".encode(), kind)
    spec = {"prompt": "a fox", "input_media": list(inputs), "owner_id": "cli:alice"}
    add_done(store, id=gid, media_path=media.relative_path(gid), spec=spec, **more)
    place(store, media, gid)
    return gid


def test_deleting_a_clip_deletes_every_file_of_it(
    sqlite_store: GalleryStore, community: CommunityStore, media: LocalMediaStore
) -> None:
    gid, other = add_clip(sqlite_store, media), add_clip(sqlite_store, media)
    assert len(files(media, gid)) >= len(ALL)

    assert delete_clip(community, sqlite_store, media, gid)
    assert files(media, gid) == []
    assert sqlite_store.get(gid).deleted_at is not None  # type: ignore[union-attr]
    assert not delete_clip(community, sqlite_store, media, gid)  # again: nothing left, no error
    assert len(files(media, other)) >= len(ALL)  # another clip's files are untouched


def test_files_a_live_clip_uses_stay_until_the_last_one_goes(
    sqlite_store: GalleryStore, community: CommunityStore, media: LocalMediaStore
) -> None:
    """An image-to-video clip; a reroll of it keeps its input image; an extend of the reroll
    reads the reroll's video."""
    image = add_clip(sqlite_store, media)
    picture = media.relative_path(image, "png")
    reroll = add_clip(sqlite_store, media, inputs=(picture,), parent_id=image)
    video = media.relative_path(reroll, "mp4")
    extend = add_clip(sqlite_store, media, inputs=(video,), parent_id=reroll)

    delete_clip(community, sqlite_store, media, image)
    assert media.exists(picture) and files(media, image) == sorted(
        [f"{image}.png"] + ([f"private/{picture}"] if isinstance(media, S3MediaStore) else [])
    )
    delete_clip(community, sqlite_store, media, reroll)  # nothing uses the image now
    assert files(media, image) == []
    assert [f for f in files(media, reroll) if not f.endswith(".mp4")] == []
    assert media.exists(video)  # the extend still reads it
    delete_clip(community, sqlite_store, media, extend)
    assert files(media, reroll) == [] and files(media, extend) == []


def test_a_purge_deletes_what_no_moderator_shows_again_within_the_grace(
    sqlite_store: GalleryStore, community: CommunityStore, media: LocalMediaStore
) -> None:
    moderation = ModerationStore(sqlite_store.engine)
    kept, gone = add_clip(sqlite_store, media), add_clip(sqlite_store, media)
    bob = add_clip(sqlite_store, media, owner_id="cli:bob")

    purged = hide_member(moderation, sqlite_store, media, "cli:alice")
    assert sorted(row.id for row in purged) == sorted([kept, gone])
    assert change_moderation(
        moderation, sqlite_store, media, kept, [Moderation.HIDDEN], Moderation.OK
    )  # /mod unhide
    soon = utcnow() + PURGE_GRACE - timedelta(minutes=1)
    assert expire_purged(moderation, community, sqlite_store, media, now=soon) == []
    assert len(files(media, gone)) >= len(ALL)  # still there for a moderator to look at

    later = utcnow() + PURGE_GRACE + timedelta(minutes=1)
    assert expire_purged(moderation, community, sqlite_store, media, now=later) == [gone]
    assert files(media, gone) == [] and sqlite_store.get(gone).deleted_at is not None  # type: ignore[union-attr]
    assert sqlite_store.get(kept).is_public and len(files(media, kept)) >= len(ALL)  # type: ignore[union-attr]
    assert len(files(media, bob)) >= len(ALL)
    # A clip shown again and hidden later (by reports, say) is no longer on the purge's clock.
    change_moderation(moderation, sqlite_store, media, kept, [Moderation.OK], Moderation.HIDDEN)
    assert expire_purged(moderation, community, sqlite_store, media, now=later) == []


def test_the_queries_behind_it_on_both_databases(store: GalleryStore) -> None:
    """What deletion asks the database, on SQLite and PostgreSQL (specs are JSON on one, JSONB
    on the other): which inputs the live lineage below a clip names, which clips a purge hid
    before a moment, every clip page by page."""
    moderation, community = ModerationStore(store.engine), CommunityStore(store.engine)
    root = add_done(store, spec={"prompt": "a fox"})
    picture = f"{root[:2]}/{root}.png"
    child = add_done(store, parent_id=root, spec={"prompt": "a fox", "input_media": [picture]})
    video = f"{child[:2]}/{child}.mp4"
    extend = add_done(store, parent_id=child, spec={"prompt": "a fox", "input_media": [video]})
    assert store.inputs_in_use(root) == {picture, video}
    assert store.inputs_in_use(child) == {video} and store.inputs_in_use(extend) == set()
    community.delete(child)
    assert store.inputs_in_use(root) == {video}  # the extend still reads the child's video
    community.delete(extend)
    assert store.inputs_in_use(root) == set()

    shown, hidden = add_done(store, owner_id="cli:bob"), add_done(store, owner_id="cli:bob")
    assert sorted(moderation.unhidden_of("cli:bob")) == sorted([shown, hidden])
    assert sorted(row.id for row in moderation.hide_all_of("cli:bob")) == sorted([shown, hidden])
    assert moderation.unhidden_of("cli:bob") == []
    moderation.transition(shown, [Moderation.HIDDEN], Moderation.OK)
    assert moderation.purged_before(utcnow() - timedelta(minutes=1)) == []
    assert moderation.purged_before(utcnow() + timedelta(minutes=1)) == [hidden]

    everything = sorted([root, child, extend, shown, hidden])
    pages = [store.page_by_id(limit=2)]
    while pages[-1]:
        pages.append(store.page_by_id(after=pages[-1][-1].id, limit=2))
    assert [row.id for page in pages for row in page] == everything
