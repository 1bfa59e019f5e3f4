"""A bucket with a public prefix (`REELBOT_S3_PUBLIC_URL`) serves public clips' media and nothing
else, as a visitor without credentials finds it: held, hidden, removed and deleted clips, members'
inputs and contact sheets answer 403 or 404 at every prefix, however their paths are guessed.
Against moto's S3 server with the README's bucket policy (only `public/` readable by anyone)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from gallery.community import CommunityStore
from gallery.deletion import delete_clip
from gallery.mediastore import make_media_store
from gallery.models import Moderation
from gallery.moderation import ModerationStore
from gallery.s3media import S3MediaStore
from gallery.store import GalleryStore
from gallery.visibility import change_moderation, place, sync
from gallery.web import create_app
from tests.gallery.factories import add_done, new_id
from tests.harness.buckets import (
    anonymous_get,
    new_bucket,
    objects,
    s3_endpoint,
    s3_settings,
    visitor_statuses,
)

__all__ = ["s3_endpoint"]  # a fixture

SHOWN = {"mp4": b"\x00\x00\x00\x18ftypmp42clip", "jpg": b"\xff\xd8poster", "preview.mp4": b"pv"}
NOT_FOUND = {403, 404}


@pytest.fixture
def bucket(s3_endpoint: str, tmp_path: Path) -> str:
    return new_bucket(s3_endpoint, tmp_path / "setup")


@pytest.fixture
def media(s3_endpoint: str, bucket: str, tmp_path: Path) -> S3MediaStore:
    """The store every process builds from the settings, the public URL serving `public/`."""
    public = f"{s3_endpoint}/{bucket}/public"
    store = make_media_store(s3_settings(s3_endpoint, tmp_path / "m", bucket, s3_public_url=public))
    assert isinstance(store, S3MediaStore)
    return store


@pytest.fixture
def moderation(sqlite_store: GalleryStore) -> ModerationStore:
    return ModerationStore(sqlite_store.engine)


@pytest.fixture
async def gallery(
    sqlite_store: GalleryStore, media: S3MediaStore
) -> AsyncIterator[TestClient[Any, Any]]:
    app = create_app(sqlite_store, media, public_url="https://clips.example/")
    async with TestClient(TestServer(app)) as client:
        yield client


def add_clip(store: GalleryStore, media: S3MediaStore, **overrides: Any) -> str:
    """A clip as the worker leaves it: files uploaded, the row done, the files placed."""
    gid = new_id()
    for kind, data in SHOWN.items():
        media.save_bytes(gid, data, kind)
    add_done(store, id=gid, media_path=media.relative_path(gid), **overrides)
    place(store, media, gid)
    return gid


def statuses(endpoint: str, bucket: str, media: S3MediaStore, gid: str, kind: str) -> set[int]:
    return set(visitor_statuses(endpoint, bucket, media.relative_path(gid, kind)).values())


async def test_a_visitor_gets_public_clips_media_and_nothing_else(
    sqlite_store: GalleryStore,
    moderation: ModerationStore,
    media: S3MediaStore,
    gallery: TestClient[Any, Any],
    s3_endpoint: str,
    bucket: str,
) -> None:
    public = add_clip(sqlite_store, media)
    media.save_bytes(public, b"\x89PNG input", "png")  # the image a member animated
    media.save_bytes(public, b"\x00\x00\x00\x18ftypisom", "input.mp4")  # a video to restyle
    media.save_bytes(public, b"\x89PNG sheet", "sheet.png")  # a report's rescan
    held = add_clip(sqlite_store, media)
    sqlite_store.set_moderation(held, Moderation.HELD)  # as the output scan holds one
    place(sqlite_store, media, held)
    private = add_clip(sqlite_store, media, hidden=True)  # made with -hide
    reported, removed, deleted = (add_clip(sqlite_store, media) for _ in range(3))
    for gid, to in ((reported, Moderation.HIDDEN), (removed, Moderation.REMOVED)):
        assert change_moderation(moderation, sqlite_store, media, gid, [Moderation.OK], to)
    assert delete_clip(CommunityStore(sqlite_store.engine), sqlite_store, media, deleted)

    for kind in SHOWN:
        found = visitor_statuses(s3_endpoint, bucket, media.relative_path(public, kind))
        assert found == {"public/": 200, "private/": 403, "(bare)": 404}, kind
        response = await gallery.get(f"/media/{public}.{kind}", allow_redirects=False)
        location = response.headers["Location"]
        assert location == f"{s3_endpoint}/{bucket}/public/{media.relative_path(public, kind)}"
        assert anonymous_get(location) == 200
    for kind in ("png", "input.mp4", "sheet.png"):
        assert statuses(s3_endpoint, bucket, media, public, kind) <= NOT_FOUND, kind

    for gid in (held, private, reported, removed, deleted):
        for kind in SHOWN:
            assert statuses(s3_endpoint, bucket, media, gid, kind) <= NOT_FOUND, (gid, kind)
            response = await gallery.get(f"/media/{gid}.{kind}", allow_redirects=False)
            assert response.status == 404 and "Location" not in response.headers
    assert [key for key in objects(media) if key.startswith("public/")] == sorted(
        f"public/{media.relative_path(public, kind)}" for kind in SHOWN
    )


async def test_hiding_takes_the_files_out_and_restoring_puts_them_back(
    sqlite_store: GalleryStore,
    moderation: ModerationStore,
    media: S3MediaStore,
    gallery: TestClient[Any, Any],
    s3_endpoint: str,
    bucket: str,
) -> None:
    gid = add_clip(sqlite_store, media)
    url = f"{s3_endpoint}/{bucket}/public/{media.relative_path(gid)}"
    assert anonymous_get(url) == 200

    assert change_moderation(
        moderation, sqlite_store, media, gid, [Moderation.OK], Moderation.HIDDEN
    )
    assert anonymous_get(url) == 404
    assert (await gallery.get(f"/media/{gid}.mp4", allow_redirects=False)).status == 404

    assert change_moderation(
        moderation, sqlite_store, media, gid, [Moderation.HIDDEN], Moderation.OK
    )
    assert anonymous_get(url) == 200
    response = await gallery.get(f"/media/{gid}.mp4", allow_redirects=False)
    assert response.headers["Location"] == url
    # Hiding twice, restoring twice: each a no-op the second time.
    hide = (moderation, sqlite_store, media, gid, [Moderation.OK], Moderation.HIDDEN)
    assert change_moderation(*hide) and not change_moderation(*hide)
    assert anonymous_get(url) == 404


def test_a_hide_that_dies_before_its_commit_leaves_no_public_copy(
    sqlite_store: GalleryStore,
    moderation: ModerationStore,
    media: S3MediaStore,
    s3_endpoint: str,
    bucket: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    gid = add_clip(sqlite_store, media)
    url = f"{s3_endpoint}/{bucket}/public/{media.relative_path(gid)}"

    def crash(*args: object) -> bool:
        raise ConnectionError("the database went away")

    monkeypatch.setattr(moderation, "transition", crash)
    with pytest.raises(ConnectionError):
        change_moderation(moderation, sqlite_store, media, gid, [Moderation.OK], Moderation.HIDDEN)
    assert anonymous_get(url) == 404  # taken down before the row changed
    # Still public in the gallery, served from the private object until the next place().
    assert media.url_for(media.relative_path(gid)).startswith(f"{s3_endpoint}/{bucket}/private/")
    monkeypatch.undo()
    assert place(sqlite_store, media, gid) and anonymous_get(url) == 200


def test_a_hide_landing_while_a_clip_is_exposed_wins(
    sqlite_store: GalleryStore,
    moderation: ModerationStore,
    media: S3MediaStore,
    s3_endpoint: str,
    bucket: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The worker exposes a clip just done while a moderator hides it: the hide's withdraw ran
    before the copies were made, and the worker's second look at the row takes them down."""
    gid = new_id()
    for kind, data in SHOWN.items():
        media.save_bytes(gid, data, kind)
    add_done(sqlite_store, id=gid, media_path=media.relative_path(gid))
    expose = media.expose

    def expose_while_hidden(generation_id: str) -> list[str]:
        change_moderation(moderation, sqlite_store, media, gid, [Moderation.OK], Moderation.HIDDEN)
        return expose(generation_id)

    monkeypatch.setattr(media, "expose", expose_while_hidden)
    assert not place(sqlite_store, media, gid)
    assert statuses(s3_endpoint, bucket, media, gid, "mp4") <= NOT_FOUND
    assert objects(media, gid) == sorted(f"private/{media.relative_path(gid, k)}" for k in SHOWN)


def test_sync_moves_what_an_older_version_wrote(
    sqlite_store: GalleryStore,
    moderation: ModerationStore,
    media: S3MediaStore,
    s3_endpoint: str,
    bucket: str,
    tmp_path: Path,
) -> None:
    """Before this version every object sat at its bare path (public wherever the bucket was);
    the gallery still reads them until `reelbot media sync` moves them."""
    public, hidden, deleted = new_id(), new_id(), new_id()
    for gid in (public, hidden, deleted):
        for kind, data in SHOWN.items():  # as the old version uploaded them
            key = media.relative_path(gid, kind)
            media.client.put_object(Bucket=bucket, Key=key, Body=data)
        add_done(sqlite_store, id=gid, media_path=media.relative_path(gid))
    media.client.put_object(Bucket=bucket, Key="notes/readme.txt", Body=b"not ours")
    moderation.transition(hidden, [Moderation.OK], Moderation.HIDDEN)
    CommunityStore(sqlite_store.engine).delete(deleted)

    other = make_media_store(s3_settings(s3_endpoint, tmp_path / "other", bucket))
    fetched = other.fetch(other.relative_path(public))  # still readable before the sync
    assert fetched is not None and fetched.read_bytes() == SHOWN["mp4"]

    report = sync(sqlite_store, media)
    assert (report.adopted, report.public, report.private, report.deleted) == (9, 1, 1, 1)
    assert objects(media) == sorted(
        [f"private/{media.relative_path(gid, kind)}" for gid in (public, hidden) for kind in SHOWN]
        + [f"public/{media.relative_path(public, kind)}" for kind in SHOWN]
        + ["notes/readme.txt"]
    )
    assert visitor_statuses(s3_endpoint, bucket, media.relative_path(public))["public/"] == 200
    for gid in (hidden, deleted):
        assert statuses(s3_endpoint, bucket, media, gid, "mp4") <= NOT_FOUND

    again = sync(sqlite_store, media)  # nothing left to move; the same state
    assert (again.adopted, again.public, again.private, again.deleted) == (0, 1, 1, 1)
    assert len(objects(media)) == 2 * len(SHOWN) + len(SHOWN) + 1
