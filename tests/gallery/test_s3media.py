"""The S3 media store against a real S3 HTTP API (moto's server on localhost), no mocks."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer

from gallery.media import KINDS, LocalMediaStore
from gallery.mediastore import make_media_store
from gallery.s3media import S3MediaStore
from gallery.settings import GallerySettings
from gallery.store import GalleryStore
from gallery.visibility import place
from gallery.web import create_app
from tests.gallery.factories import add_done, new_id
from tests.harness.buckets import s3_endpoint, s3_settings

__all__ = ["s3_endpoint"]  # a fixture

GID = "0123456789abcdef0123456789abcdef"
KEY = re.compile(r"^([0-9a-f]{2})/\1[0-9a-f]{30}\.(mp4|small\.mp4|preview\.mp4|jpg|webp|png)$")
CLIP = b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 20
TYPES = {
    "mp4": "video/mp4",
    "small.mp4": "video/mp4",
    "preview.mp4": "video/mp4",
    "jpg": "image/jpeg",
    "webp": "image/webp",
    "png": "image/png",
    "end.png": "image/png",  # the picture an /animate clip ends on
    **{f"k{k}.png": "image/png" for k in range(5)},  # a /frames clip's pictures
    "sheet.png": "image/png",
    "mask.png": "image/png",  # an edit's mask (never public)
    "char.png": "image/png",  # a saved character's picture (/character save)
    "ref.png": "image/png",  # /create's ref_image
    "input.mp4": "video/mp4",
    "input.mov": "video/quicktime",
    "input.webm": "video/webm",
    "input.mkv": "video/x-matroska",
    **{f"s{k}.mp4": "video/mp4" for k in range(8)},  # a story's shots (never public)
    "voice.wav": "audio/wav",  # /speak's checked voice (never public)
}


@pytest.fixture
def endpoint(s3_endpoint: str) -> str:
    return s3_endpoint


@pytest.fixture
def bucket(endpoint: str, tmp_path: Path) -> str:
    name = f"clips-{uuid.uuid4().hex[:12]}"
    store = make_media_store(s3_settings(endpoint, tmp_path / "setup", name))
    assert isinstance(store, S3MediaStore)
    store.client.create_bucket(Bucket=name)
    return name


@pytest.fixture
def s3(endpoint: str, bucket: str, tmp_path: Path) -> S3MediaStore:
    store = make_media_store(s3_settings(endpoint, tmp_path / "worker", bucket))
    assert isinstance(store, S3MediaStore)
    return store


@pytest.fixture
def elsewhere(endpoint: str, bucket: str, tmp_path: Path) -> S3MediaStore:
    """The same bucket seen from another machine: an empty local folder."""
    store = make_media_store(s3_settings(endpoint, tmp_path / "bot", bucket))
    assert isinstance(store, S3MediaStore)
    return store


def keys(store: S3MediaStore) -> list[str]:
    listed = store.client.list_objects_v2(Bucket=store.bucket)
    return sorted(item["Key"] for item in listed.get("Contents", []))


def test_the_setting_picks_the_store(tmp_path: Path, endpoint: str) -> None:
    local = make_media_store(GallerySettings(_env_file=None, data_dir=tmp_path))  # type: ignore[call-arg]
    assert type(local) is LocalMediaStore and local.root == (tmp_path / "media").resolve()
    s3 = make_media_store(s3_settings(endpoint, tmp_path, "any-bucket"))
    assert isinstance(s3, S3MediaStore) and s3.bucket == "any-bucket"
    with pytest.raises(ValueError, match="S3_BUCKET"):
        make_media_store(s3_settings(endpoint, tmp_path, ""))


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_each_kind_is_saved_with_its_type_and_read_back_elsewhere(
    s3: S3MediaStore, elsewhere: S3MediaStore, kind: str
) -> None:
    data = CLIP + kind.encode()
    relative, size = s3.save_bytes(GID, data, kind)
    assert (relative, size) == (f"01/{GID}.{kind}", len(data))
    assert s3.path_for(GID, kind).read_bytes() == data  # the local working copy stays

    head = s3.client.head_object(Bucket=s3.bucket, Key=f"private/{relative}")
    assert head["ContentType"] == TYPES[kind]
    assert head["CacheControl"] == "public, max-age=31536000, immutable"

    assert not elsewhere.resolve(relative).exists()
    assert elsewhere.exists(relative)
    fetched = elsewhere.fetch(relative)
    assert fetched == elsewhere.resolve(relative) and fetched.read_bytes() == data
    assert [p.name for p in fetched.parent.iterdir()] == [fetched.name]  # no temp files left


def test_files_written_in_place_are_published(s3: S3MediaStore, elsewhere: S3MediaStore) -> None:
    s3.path_for(GID, "mp4").write_bytes(CLIP)
    s3.path_for(GID, "jpg").write_bytes(b"\xff\xd8jpeg")
    published = s3.publish(GID, ("mp4", "small.mp4", "preview.mp4", "jpg"))
    assert published == [f"01/{GID}.mp4", f"01/{GID}.jpg"]  # only what exists
    assert keys(s3) == sorted(f"private/{relative}" for relative in published)
    assert not elsewhere.exists(f"01/{GID}.small.mp4")
    assert elsewhere.fetch(f"01/{GID}.small.mp4") is None


def test_evict_drops_the_local_copy_and_the_bucket_keeps_the_file(
    s3: S3MediaStore, elsewhere: S3MediaStore
) -> None:
    relative, _ = s3.save_bytes(GID, CLIP, "mp4")
    s3.evict([relative])
    assert not s3.resolve(relative).exists()
    assert keys(s3) == [f"private/{relative}"]
    fetched = s3.fetch(relative)  # downloaded again when needed
    assert fetched is not None and fetched.read_bytes() == CLIP
    with pytest.raises(ValueError):
        s3.evict(["../secret"])


def test_fetch_downloads_only_what_fits(s3: S3MediaStore, elsewhere: S3MediaStore) -> None:
    relative, size = s3.save_bytes(GID, CLIP, "mp4")
    assert elsewhere.fetch(relative, max_bytes=size - 1) is None
    assert not elsewhere.resolve(relative).exists()  # not downloaded just to be refused
    path = elsewhere.fetch(relative, max_bytes=size)
    assert path is not None and path.read_bytes() == CLIP
    assert s3.fetch(relative, max_bytes=size - 1) is None  # a local copy is measured too


@pytest.mark.parametrize(
    "relative",
    [
        "../secret",
        "01/../../etc/passwd",
        "/etc/passwd",
        "01/a cat in a hat.mp4",  # prompt text
        f"01/{GID}.html",
        f"ab/{GID}.mp4",  # the shard must be the id's
        f"01/{GID}.mp4?x=1",
        f"01/{GID.upper()}.mp4",
    ],
)
def test_keys_are_only_ids_and_kinds(s3: S3MediaStore, relative: str) -> None:
    for call in (s3.exists, s3.fetch, s3.url_for):
        with pytest.raises(ValueError):
            call(relative)
    with pytest.raises(ValueError):
        s3.save_bytes("a fox in the snow", b"x", "mp4")
    assert keys(s3) == []


# The gallery ----------------------------------------------------------------------------------


@pytest.fixture
async def client(
    sqlite_store: GalleryStore, s3: S3MediaStore
) -> AsyncIterator[TestClient[Any, Any]]:
    app = create_app(sqlite_store, s3, public_url="https://clips.example/")
    async with TestClient(TestServer(app)) as test_client:
        yield test_client


def add_clip(store: GalleryStore, media: LocalMediaStore, **overrides: Any) -> str:
    gid = new_id()
    relative, size = media.save_bytes(gid, CLIP, "mp4")
    add_done(store, id=gid, media_path=relative, size_bytes=size, **overrides)
    return gid


async def follow(url: str, **headers: str) -> tuple[int, dict[str, str], bytes]:
    async with aiohttp.ClientSession() as session, session.get(url, headers=headers) as got:
        return got.status, dict(got.headers), await got.read()


async def test_media_redirects_to_a_url_that_serves_the_file(
    client: TestClient[Any, Any], sqlite_store: GalleryStore, s3: S3MediaStore, endpoint: str
) -> None:
    gid = add_clip(sqlite_store, s3, prompt="a fox in the snow")
    s3.save_bytes(gid, b"\xff\xd8poster", "jpg")

    response = await client.get(f"/media/{gid}.mp4", allow_redirects=False)
    assert response.status == 302
    assert response.headers["Cache-Control"] == "private, max-age=300"
    location = response.headers["Location"]
    assert location.startswith(f"{endpoint}/{s3.bucket}/private/{gid[:2]}/{gid}.mp4?")
    assert "fox" not in location
    status, headers, body = await follow(location)
    assert (status, headers["Content-Type"], body) == (200, "video/mp4", CLIP)
    status, headers, body = await follow(location, Range="bytes=10-19")
    assert (status, body) == (206, CLIP[10:20])  # seeking works against the bucket

    poster = (await client.get(f"/media/{gid}.jpg", allow_redirects=False)).headers["Location"]
    status, headers, body = await follow(poster)
    assert (status, headers["Content-Type"], body) == (200, "image/jpeg", b"\xff\xd8poster")

    download = await client.get(f"/media/{gid}.mp4?download=1", allow_redirects=False)
    status, headers, _ = await follow(download.headers["Location"])
    assert headers["Content-Disposition"] == f'attachment; filename="reelbot-{gid}.mp4"'

    page = await client.get(f"/clips/{gid}")  # the page lets the player load from the bucket
    policy = page.headers["Content-Security-Policy"]
    assert f"media-src 'self' {endpoint}" in policy and f"img-src 'self' data: {endpoint}" in policy


async def test_missing_and_private_clips_are_404_not_redirects(
    client: TestClient[Any, Any], sqlite_store: GalleryStore, s3: S3MediaStore
) -> None:
    hidden = add_clip(sqlite_store, s3, hidden=True)
    lost = new_id()  # a done row whose file never reached the bucket
    add_done(sqlite_store, id=lost, media_path=s3.relative_path(lost))
    for gid in (new_id(), hidden, lost):
        for kind in ("mp4", "jpg", "preview.mp4"):
            response = await client.get(f"/media/{gid}.{kind}", allow_redirects=False)
            assert response.status == 404, (gid, kind)
            assert "Location" not in response.headers


async def test_a_public_url_serves_public_clips_but_never_downloads_or_moderators(
    endpoint: str, bucket: str, tmp_path: Path, sqlite_store: GalleryStore
) -> None:
    cdn = make_media_store(
        s3_settings(endpoint, tmp_path / "cdn", bucket, s3_public_url="https://cdn.example/v/")
    )
    gid = add_clip(sqlite_store, cdn)
    assert place(sqlite_store, cdn, gid)  # its public copy, as the worker makes it
    app = create_app(sqlite_store, cdn, public_url="https://clips.example/")
    async with TestClient(TestServer(app)) as test_client:
        response = await test_client.get(f"/media/{gid}.mp4", allow_redirects=False)
        assert response.headers["Location"] == f"https://cdn.example/v/{gid[:2]}/{gid}.mp4"
        download = await test_client.get(f"/media/{gid}.mp4?download=1", allow_redirects=False)
        assert download.headers["Location"].startswith(endpoint)
        policy = response.headers["Content-Security-Policy"]
        assert f"media-src 'self' https://cdn.example {endpoint}" in policy
    assert cdn.url_for(cdn.relative_path(gid), private=True).startswith(endpoint)


# The grid's preview, for both stores ----------------------------------------------------------


@pytest.fixture(params=["local", "s3"])
def any_media(request: pytest.FixtureRequest, tmp_path: Path) -> LocalMediaStore:
    if request.param == "local":
        return LocalMediaStore(tmp_path / "local-media")
    return request.getfixturevalue("s3")


async def body_of(test_client: TestClient[Any, Any], path: str) -> bytes:
    response = await test_client.get(path)
    assert response.status == 200, path
    return await response.read()


async def test_the_grid_plays_the_preview_and_old_clips_fall_back(
    sqlite_store: GalleryStore, any_media: LocalMediaStore
) -> None:
    new, old = add_clip(sqlite_store, any_media), add_clip(sqlite_store, any_media)
    any_media.save_bytes(new, b"preview", "preview.mp4")
    app = create_app(sqlite_store, any_media, public_url="https://clips.example/")
    async with TestClient(TestServer(app)) as test_client:
        html = await (await test_client.get("/")).text()
        assert f'src="/media/{new}.preview.mp4"' in html
        assert f'src="/media/{old}.preview.mp4"' in html
        api = await (await test_client.get(f"/api/clips/{new}")).json()
        assert api["preview_url"] == f"https://clips.example/media/{new}.preview.mp4"

        assert await body_of(test_client, f"/media/{new}.preview.mp4") == b"preview"
        assert await body_of(test_client, f"/media/{old}.preview.mp4") == CLIP  # no copies yet
        any_media.save_bytes(old, b"small", "small.mp4")
        assert await body_of(test_client, f"/media/{old}.preview.mp4") == b"small"
        assert await body_of(test_client, f"/media/{new}.small.mp4") == CLIP
