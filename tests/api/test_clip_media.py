"""GET /v1/clips/{id}/media, /preview and /poster: a member fetches their own hidden clip (which
the gallery serves to no one) with their token, from a local media folder or an S3 bucket; no
one else can."""

from __future__ import annotations

from pathlib import Path

from api.schemas import Clip
from gallery.media import LocalMediaStore
from gallery.mediastore import make_media_store
from tests.api.conftest import Api
from tests.harness.buckets import new_bucket, s3_endpoint, s3_settings

__all__ = ["s3_endpoint"]  # the fixture, found by this name

OTHER = "discord:2002"
VIDEO = b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 40
PREVIEW = b"\x00\x00\x00\x18ftypisom" + b"preview" * 100
POSTER = b"\xff\xd8\xff\xe0" + b"poster" * 50


async def finished(api: Api, media: LocalMediaStore, **body: object) -> str:
    """A clip asked through the API, rendered by a 'worker' writing into `media`."""
    answer = await api.post_clip({"prompt": "a fox", **body})
    assert answer.status == 202, answer.body
    gid = answer.body["id"]
    relative, size = media.save_bytes(gid, VIDEO, "mp4")
    api.ctx.store.mark_rendering(gid, worker="w1", attempt=1)
    assert api.ctx.store.mark_done(gid, media_path=relative, size_bytes=size, timings={})
    return gid


async def test_a_hidden_clips_links_are_the_apis_and_fetch_its_files_for_its_owner(
    api: Api,
) -> None:
    media = api.ctx.media_store
    gid = await finished(api, media, hide=True)
    clip = Clip.model_validate((await api.call("GET", f"/v1/clips/{gid}")).body)
    assert clip.status == "succeeded" and clip.result is not None
    base = f"{api.url}/v1/clips/{gid}"
    assert (clip.result.video_url, clip.result.preview_url, clip.result.poster_url) == (
        f"{base}/media",
        f"{base}/preview",
        f"{base}/poster",
    )
    assert clip.result.page_url is None and clip.result.public is False

    video = await api.call("GET", clip.result.video_url.removeprefix(api.url))
    assert (video.status, video.body) == (200, VIDEO)
    assert video.headers["Content-Type"] == "video/mp4"
    assert video.headers["Cache-Control"] == "private, no-store"
    part = await api.call("GET", f"/v1/clips/{gid}/media", headers={"Range": "bytes=0-11"})
    assert (part.status, part.body) == (206, VIDEO[:12])  # players seek
    saved = await api.call("GET", f"/v1/clips/{gid}/media?download=1")
    assert saved.headers["Content-Disposition"] == f'attachment; filename="reelbot-{gid}.mp4"'

    # the preview falls back to the clip until the worker made one; the poster has none
    assert (await api.call("GET", f"/v1/clips/{gid}/preview")).body == VIDEO
    assert (await api.call("GET", f"/v1/clips/{gid}/poster")).status == 404
    media.save_bytes(gid, PREVIEW, "preview.mp4")
    media.save_bytes(gid, POSTER, "jpg")
    assert (await api.call("GET", f"/v1/clips/{gid}/preview")).body == PREVIEW
    poster = await api.call("GET", f"/v1/clips/{gid}/poster")
    assert (poster.status, poster.body, poster.headers["Content-Type"]) == (
        200,
        POSTER,
        "image/jpeg",
    )
    another_of_theirs = api.issue(scopes=("clips:read",))
    assert (await api.call("GET", f"/v1/clips/{gid}/media", token=another_of_theirs)).status == 200


async def test_no_one_else_gets_a_hidden_clips_files(api: Api) -> None:
    gid = await finished(api, api.ctx.media_store, hide=True)
    nobody = await api.call("GET", f"/v1/clips/{'0' * 32}/media")
    other = await api.call("GET", f"/v1/clips/{gid}/media", token=api.issue(OTHER))
    assert (other.status, other.detail) == (404, nobody.detail)
    assert (await api.call("GET", f"/v1/clips/{gid}/media", token=None)).status == 401
    writer_only = api.issue(scopes=("clips:write",))
    assert (await api.call("GET", f"/v1/clips/{gid}/media", token=writer_only)).status == 403


async def test_a_public_clip_links_the_gallery_and_an_unfinished_one_has_no_files(
    api: Api,
) -> None:
    gid = await finished(api, api.ctx.media_store)
    clip = Clip.model_validate((await api.call("GET", f"/v1/clips/{gid}")).body)
    assert clip.result is not None and clip.result.public is True
    assert clip.result.video_url == f"http://gallery.test/media/{gid}.mp4"
    assert clip.result.page_url == f"http://gallery.test/clips/{gid}"
    queued = (await api.post_clip({"prompt": "a cat"})).body["id"]
    answer = await api.call("GET", f"/v1/clips/{queued}/media")
    assert answer.status == 409 and "queued" in answer.detail


async def test_a_hidden_clip_in_an_s3_bucket_is_fetched_through_the_api(
    api: Api, s3_endpoint: str, tmp_path: Path
) -> None:
    """The worker's store uploads it; the API's, on another machine, has no local copy."""
    bucket = new_bucket(s3_endpoint, tmp_path / "worker")
    worker = make_media_store(s3_settings(s3_endpoint, tmp_path / "worker", bucket))
    api.ctx.media_store = make_media_store(s3_settings(s3_endpoint, tmp_path / "api", bucket))
    gid = await finished(api, worker, hide=True)
    assert not list((tmp_path / "api").rglob(f"{gid}.*"))  # nothing here yet
    video = await api.call("GET", f"/v1/clips/{gid}/media")
    assert (video.status, video.body) == (200, VIDEO)
    assert (await api.call("GET", f"/v1/clips/{gid}/media", token=api.issue(OTHER))).status == 404
