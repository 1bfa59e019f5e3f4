"""The gallery web through a real HTTP client: what a visitor (or an attacker) would get back."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import sqlalchemy as sa
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from gallery.browse import Page
from gallery.media import LocalMediaStore
from gallery.models import Generation
from gallery.settings import GallerySettings
from gallery.store import GalleryStore
from gallery.web import create_app, serve
from gallery.webkit import BROWSE
from tests.gallery.factories import add_done, generation, new_id
from tests.harness.cli import reelbot
from tests.harness.waiting import eventually

XSS_PROMPT = 'a cat <script>alert(1)</script> and "><img src=x onerror=alert(1)>'
VIDEO_BYTES = bytes(range(256)) * 40  # 10,240 bytes; the content does not matter here


@dataclass
class Gallery:
    client: TestClient[web.Request, web.Application]
    store: GalleryStore
    media: LocalMediaStore

    def add_clip(self, **overrides: object) -> str:
        gid = new_id()
        relative, size = self.media.relative_path(gid), len(VIDEO_BYTES)
        self.media.path_for(gid).write_bytes(VIDEO_BYTES)
        add_done(self.store, id=gid, media_path=relative, size_bytes=size, **overrides)
        return gid


@pytest.fixture
async def gallery(sqlite_store: GalleryStore, media: LocalMediaStore) -> AsyncIterator[Gallery]:
    app = create_app(sqlite_store, media, public_url="https://clips.example/")
    async with TestClient(TestServer(app)) as client:
        yield Gallery(client, sqlite_store, media)


async def test_prompts_are_escaped_on_every_page(gallery: Gallery) -> None:
    gid = gallery.add_clip(prompt=XSS_PROMPT, negative_prompt="<b>bold</b>")
    for path in ("/", f"/clips/{gid}"):
        response = await gallery.client.get(path)
        assert response.status == 200
        html = await response.text()
        assert "<script>alert(1)</script>" not in html
        assert "<img src=x" not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
        assert "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;" in html
        assert "<script" not in html  # the pages carry no script at all


async def test_index_lists_public_clips_with_their_details(gallery: Gallery) -> None:
    gid = gallery.add_clip(prompt="a lighthouse at dusk", seed=987654321, camera="pan left")
    html = await (await gallery.client.get("/")).text()
    assert "a lighthouse at dusk" in html
    assert "987654321" in html and "pan left" in html
    assert "64×64" in html and "10.2 KB" in html
    assert f'src="/media/{gid}.preview.mp4"' in html and f'poster="/media/{gid}.jpg"' in html
    assert '<video autoplay loop muted playsinline preload="metadata"' in html
    assert f'href="/clips/{gid}"' in html
    assert 'href="/members/cli:alice">Alice</a>' in html


async def test_hidden_clip_appears_nowhere(gallery: Gallery) -> None:
    hidden = gallery.add_clip(prompt="secret hidden clip", hidden=True)
    public = gallery.add_clip(prompt="public clip")
    client = gallery.client

    assert "secret hidden clip" not in await (await client.get("/")).text()
    listed = (await (await client.get("/api/clips")).json())["clips"]
    assert [clip["id"] for clip in listed] == [public]
    for path in (f"/clips/{hidden}", f"/media/{hidden}.mp4", f"/api/clips/{hidden}"):
        response = await client.get(path)
        assert response.status == 404, path
        assert "secret hidden clip" not in await response.text()


async def test_unfinished_and_unknown_clips_are_404(gallery: Gallery) -> None:
    queued = generation()
    gallery.store.add_generation(queued)
    for gid in (queued.id, new_id()):
        for path in (f"/clips/{gid}", f"/media/{gid}.mp4", f"/api/clips/{gid}"):
            assert (await gallery.client.get(path)).status == 404, path
    for path in ("/clips/NOTHEX", "/clips/../../etc/passwd", f"/media/{'A' * 32}.mp4"):
        assert (await gallery.client.get(path)).status == 404, path
    page = await gallery.client.get(f"/clips/{queued.id}")
    assert "There is no clip here" in await page.text()


async def test_media_supports_range_requests(gallery: Gallery) -> None:
    gid = gallery.add_clip()
    response = await gallery.client.get(f"/media/{gid}.mp4", headers={"Range": "bytes=100-299"})
    assert response.status == 206
    assert response.headers["Content-Type"] == "video/mp4"
    assert response.headers["Content-Range"] == f"bytes 100-299/{len(VIDEO_BYTES)}"
    assert await response.read() == VIDEO_BYTES[100:300]
    assert "immutable" in response.headers["Cache-Control"]

    whole = await gallery.client.get(f"/media/{gid}.mp4")
    assert whole.status == 200 and await whole.read() == VIDEO_BYTES
    assert whole.headers["Accept-Ranges"] == "bytes"
    assert whole.headers["X-Content-Type-Options"] == "nosniff"


async def test_missing_media_file_is_404(gallery: Gallery) -> None:
    gid = gallery.add_clip()
    gallery.media.path_for(gid).unlink()
    assert (await gallery.client.get(f"/media/{gid}.mp4")).status == 404


async def test_bad_cursor_is_a_friendly_400(gallery: Gallery) -> None:
    for bad in ("garbage", "%00%ff", "MTIz", "x" * 1000):
        page = await gallery.client.get(f"/?before={bad}")
        assert page.status == 400
        text = await page.text()
        assert "page link is not valid" in text and "Traceback" not in text
        api = await gallery.client.get(f"/api/clips?before={bad}")
        assert api.status == 400 and "not valid" in (await api.json())["error"]
    assert (await gallery.client.get("/api/clips?limit=0")).status == 400
    assert (await gallery.client.get("/api/clips?limit=abc")).status == 400


async def test_paging_through_the_site_and_the_api(gallery: Gallery) -> None:
    ids = [gallery.add_clip(prompt=f"clip number {n}") for n in range(30)]
    newest_first = list(reversed(ids))

    seen_api: list[str] = []
    url: str | None = "/api/clips?limit=7"
    while url:
        body = await (await gallery.client.get(url)).json()
        seen_api += [clip["id"] for clip in body["clips"]]
        url = f"/api/clips?limit=7&before={body['next']}" if body["next"] else None
    assert seen_api == newest_first

    first = await (await gallery.client.get("/")).text()
    assert first.count("<article") == 24 and 'rel="next"' in first
    next_href = first.split('rel="next" href="', 1)[1].split('"', 1)[0]
    second = await (await gallery.client.get(next_href.replace("&amp;", "&"))).text()
    assert second.count("<article") == 6 and 'rel="next"' not in second
    assert "clip number 0" in second and "clip number 29" not in second


async def test_api_clip_shows_public_fields_only(gallery: Gallery) -> None:
    gid = gallery.add_clip(guild_id=123, channel_id=456)
    gallery.store.set_discord_message(gid, 789)
    clip = await (await gallery.client.get(f"/api/clips/{gid}")).json()
    assert clip["id"] == gid and clip["seed"] == 1234
    assert clip["page_url"] == f"https://clips.example/clips/{gid}"
    assert clip["media_url"] == f"https://clips.example/media/{gid}.mp4"
    for private in ("worker", "error", "guild_id", "channel_id", "discord_message_id", "spec"):
        assert private not in clip


async def test_security_headers_everywhere(gallery: Gallery) -> None:
    gid = gallery.add_clip()
    for path in ("/", f"/clips/{gid}", f"/media/{gid}.mp4", "/api/clips", "/nope", "/healthz"):
        response = await gallery.client.get(path)
        csp = response.headers["Content-Security-Policy"]
        assert "media-src 'self'" in csp and "script-src 'self'" in csp, path
        assert "unsafe-inline" not in csp
        assert response.headers["X-Content-Type-Options"] == "nosniff", path
    css = await gallery.client.get("/static/gallery.css")
    assert css.status == 200 and css.content_type == "text/css"


async def test_clip_page_has_preview_tags(gallery: Gallery) -> None:
    gid = gallery.add_clip(prompt="neon city & rain")
    html = await (await gallery.client.get(f"/clips/{gid}")).text()
    assert f'<meta property="og:video" content="https://clips.example/media/{gid}.mp4">' in html
    assert "neon city &amp; rain" in html


async def test_healthz(gallery: Gallery) -> None:
    response = await gallery.client.get("/healthz")
    assert response.status == 200
    assert await response.json() == {"ok": True, "database": "ok"}

    unreachable = GalleryStore(sa.create_engine("sqlite:////nonexistent/dir/reelbot.db"))
    app = create_app(unreachable, gallery.media, public_url="http://x")
    async with TestClient(TestServer(app)) as client:
        broken = await client.get("/healthz")
        assert broken.status == 503 and (await broken.json())["ok"] is False


async def test_database_calls_do_not_block_the_event_loop(gallery: Gallery) -> None:
    """A slow query must not stall other requests (the store runs in a thread)."""
    gallery.add_clip()
    browse = gallery.client.app[BROWSE]
    original = browse.clips
    entered, release = threading.Event(), threading.Event()

    def slow_list(*args: Any, **kwargs: Any) -> Page:
        entered.set()
        release.wait(timeout=5)
        return original(*args, **kwargs)

    browse.clips = slow_list  # type: ignore[method-assign]
    slow = asyncio.create_task(gallery.client.get("/"))
    try:
        assert await asyncio.to_thread(entered.wait, 5)
        health = await asyncio.wait_for(gallery.client.get("/healthz"), timeout=2)
        assert health.status == 200
        assert not slow.done()  # answered while the slow page was still waiting on the DB
    finally:
        release.set()
    assert (await slow).status == 200


async def test_errors_are_friendly_pages(
    gallery: Gallery, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(generation_id: str) -> tuple[Generation, str] | None:
        raise RuntimeError("connection reset by a gremlin")

    gallery.client.app[BROWSE].public_clip = broken  # type: ignore[method-assign]
    page = await gallery.client.get(f"/clips/{new_id()}")
    assert page.status == 500
    text = await page.text()
    assert "Something went wrong (ref " in text and "gremlin" not in text
    ref = text.split("(ref ", 1)[1].split(")", 1)[0]
    assert any(ref in record.getMessage() for record in caplog.records)
    api = await gallery.client.get(f"/api/clips/{new_id()}")
    assert api.status == 500 and "Something went wrong" in (await api.json())["error"]

    not_allowed = await gallery.client.post("/")
    assert not_allowed.status == 405 and "GET" in not_allowed.headers["Allow"]
    missing = await gallery.client.get("/no/such/page")
    assert missing.status == 404 and "Back to the newest clips" in await missing.text()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_serve_from_settings(tmp_path: Path) -> None:
    """`reelbot gallery`: settings in, a migrated database and a listening server out, with
    /metrics on the private port only."""
    port, metrics_port = _free_port(), _free_port()
    settings = GallerySettings(
        data_dir=tmp_path / "data", gallery_port=port, gallery_metrics_port=metrics_port
    )
    task = asyncio.create_task(serve(settings))
    try:
        async with aiohttp.ClientSession() as session:

            async def health() -> dict[str, Any] | None:
                assert not task.done(), task
                try:
                    async with session.get(f"http://127.0.0.1:{port}/healthz") as response:
                        return await response.json()  # type: ignore[no-any-return]
                except aiohttp.ClientConnectionError:
                    return None  # not listening yet

            assert (await eventually(health))["ok"] is True
            async with session.get(f"http://127.0.0.1:{port}/metrics") as public:
                assert public.status == 404
            async with session.get(f"http://127.0.0.1:{metrics_port}/metrics") as private:
                assert private.status == 200
                assert 'route="/healthz",status="200"' in await private.text()
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    assert (tmp_path / "data" / "reelbot.db").exists()


def test_a_port_in_use_is_one_line_naming_its_setting(tmp_path: Path) -> None:
    """The metrics port set to the gallery's own (or any port taken) stops `reelbot gallery`
    with one line naming the setting, not a traceback."""
    port = _free_port()
    done = reelbot(
        "gallery",
        env={
            "REELBOT_DATA_DIR": str(tmp_path),
            "REELBOT_GALLERY_PORT": str(port),
            "REELBOT_GALLERY_METRICS_PORT": str(port),
        },
    )
    assert done.returncode == 3 and "Traceback" not in done.stderr, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.startswith("reelbot:")]
    assert lines == [
        f"reelbot: REELBOT_GALLERY_METRICS_PORT: the gallery cannot listen on 127.0.0.1:{port} "
        "(address already in use). Choose a free port, or stop what is using it."
    ], done.stderr
