"""The gallery's pages, API, admin view, files and metrics through a real HTTP client."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from gallery.community import CommunityStore
from gallery.media import LocalMediaStore
from gallery.moderation import ModerationStore
from gallery.store import GalleryStore
from gallery.web import create_app
from tests.gallery.factories import add_done, new_id

TOKEN = "s3cret-admin-token"
XSS = 'a cat <script>alert(1)</script> and "><img src=x onerror=alert(1)>'
VIDEO = bytes(range(256)) * 40


@dataclass
class Site:
    client: TestClient[web.Request, web.Application]
    store: GalleryStore
    media: LocalMediaStore
    community: CommunityStore

    def add(self, **overrides: object) -> str:
        gid = new_id()
        self.media.path_for(gid).write_bytes(VIDEO)
        add_done(
            self.store,
            id=gid,
            media_path=self.media.relative_path(gid),
            size_bytes=len(VIDEO),
            **overrides,
        )
        return gid

    async def text(self, path: str, status: int = 200, **kwargs: object) -> str:
        response = await self.client.get(path, **kwargs)  # type: ignore[arg-type]
        assert response.status == status, (path, response.status)
        return await response.text()

    async def json(self, path: str, status: int = 200) -> dict:
        response = await self.client.get(path)
        assert response.status == status, (path, response.status)
        return await response.json()  # type: ignore[no-any-return]


async def _site(store: GalleryStore, media: LocalMediaStore, token: str | None) -> TestClient:
    app = create_app(store, media, public_url="https://clips.example/", admin_token=token)
    return TestClient(TestServer(app))


@pytest.fixture
async def site(sqlite_store: GalleryStore, media: LocalMediaStore) -> AsyncIterator[Site]:
    async with await _site(sqlite_store, media, TOKEN) as client:
        yield Site(client, sqlite_store, media, CommunityStore(sqlite_store.engine))


async def test_home_sorts(site: Site) -> None:
    liked, fresh = site.add(prompt="liked one"), site.add(prompt="fresh one")
    site.community.like(liked, "discord:1")
    assert (await site.text("/")).index("fresh one") < (await site.text("/")).index("liked one")
    for path in ("/?sort=top", "/?sort=top&period=day", "/?sort=trending"):
        html = await site.text(path)
        assert html.index("liked one") < html.index("fresh one"), path
    body = await site.json("/api/clips?sort=top&period=week")
    assert [c["id"] for c in body["clips"]] == [liked, fresh] and body["sort"] == "top"
    assert body["clips"][0]["like_count"] == 1
    assert (await site.client.get("/?sort=best")).status == 400
    assert (await site.client.get("/api/clips?period=year")).status == 400
    for sort in ("top", "trending"):
        first = await site.json(f"/api/clips?sort={sort}&limit=1")
        second = await site.json(f"/api/clips?sort={sort}&limit=1&cursor={first['next']}")
        assert [c["id"] for c in first["clips"] + second["clips"]] == [liked, fresh]
        assert second["next"] is None
        wrong = await site.client.get(f"/api/clips?sort=new&cursor={first['next']}")
        assert wrong.status == 400


async def test_clip_page_shows_everything(site: Site) -> None:
    parent = site.add(prompt="the original", owner_id="discord:5", owner_name="Five")
    gid = site.add(
        prompt="a fox remix",
        negative_prompt="blurry",
        parent_id=parent,
        seed=777,
        camera="pan left",
        backend="ltx",
        owner_id="discord:6",
        owner_name="Six <b>",
        spec={
            "prompt": "a fox remix",
            "negative_prompt": "blurry",
            "seed": 777,
            "camera": "pan left",
            "guidance_scale": 9.5,
            "steps": 30,
            "fps": 8,
            "num_frames": 16,
            "aspect_ratio": "1:1",
            "motion": 2,
            "style": {"name": "anime", "prompt_suffix": "", "negative": ""},
        },
    )
    child = site.add(prompt="a child remix", parent_id=gid)
    site.community.like(gid, "discord:9")
    html = await site.text(f"/clips/{gid}")
    assert "a fox remix" in html and "Avoiding: blurry" in html
    assert 'href="/members/discord:6">Six &lt;b&gt;</a>' in html
    assert "1 ♥" in html and "ltx" in html and "anime" in html and "9.5" in html
    assert "0.5 s" in html  # render time from the timings
    command = (
        "/create prompt: a fox remix -neg blurry -style anime -motion 2 -camera pan left "
        "-ar 1:1 -gs 9.5 -fps 8 -len 2 -seed 777"
    )
    assert f'<code class="command">{command}</code>' in html
    assert f'href="/clips/{parent}">the original</a>' in html
    assert f'href="/clips/{child}">a child remix</a>' in html
    assert f'href="/media/{gid}.mp4?download=1" download="reelbot-{gid}.mp4"' in html
    base = "https://clips.example"
    assert f'<meta property="og:image" content="{base}/media/{gid}.jpg">' in html
    assert f'<meta property="og:video" content="{base}/media/{gid}.mp4">' in html
    assert '<meta property="og:title" content="a fox remix">' in html
    assert '<meta name="twitter:card" content="summary_large_image">' in html

    api = await site.json(f"/api/clips/{gid}")
    assert api["create_command"] == command and api["owner_name"] == "Six <b>"
    assert api["flags"]["guidance_scale"] == 9.5 and api["flags"]["style"] == "anime"
    assert api["member_url"] == f"{base}/members/discord:6" and api["render_seconds"] == 0.5
    assert "spec" not in api and "worker" not in api
    lineage = await site.json(f"/api/clips/{gid}/lineage")
    assert [c["id"] for c in lineage["ancestors"]] == [parent]
    assert [n["clip"]["id"] for n in lineage["children"]] == [child]


async def test_og_tags_escape_the_prompt(site: Site) -> None:
    gid = site.add(prompt=XSS)
    html = await site.text(f"/clips/{gid}")
    assert "<script>alert" not in html and "<img src=x" not in html
    assert 'og:title" content="a cat &lt;script&gt;alert(1)&lt;/script&gt; and &#34;&gt;' in html
    assert "<script" not in html


async def test_member_page(site: Site) -> None:
    mine = [site.add(owner_id="discord:42", owner_name="Forty-two") for _ in range(2)]
    site.add(owner_id="discord:42", owner_name="Forty-two", hidden=True, prompt="secret")
    site.community.like(mine[0], "discord:1")
    html = await site.text("/members/discord:42")
    assert "Forty-two" in html and '<dd class="clips">2</dd>' in html
    assert '<dd class="likes">1</dd>' in html and "secret" not in html
    body = await site.json("/api/members/discord:42?limit=1")
    assert body["member"]["clips"] == 2 and body["member"]["likes"] == 1
    assert [c["id"] for c in body["clips"]] == [mine[1]] and body["next"]
    await site.text("/members/discord:404", status=404)
    await site.text("/members/..%2F..%2Fetc", status=404)
    assert (await site.client.get("/api/members/discord:404")).status == 404


async def test_search_page_and_api(site: Site) -> None:
    fox = site.add(prompt="foxes in the snow", camera="zoom in")
    site.add(prompt="a whale")
    site.add(prompt="a hidden fox", hidden=True)
    html = await site.text("/search?q=fox")
    assert "foxes in the snow" in html and "a whale" not in html and "hidden fox" not in html
    assert [c["id"] for c in (await site.json("/api/search?q=fox"))["clips"]] == [fox]
    assert (await site.json("/api/search?q=fox&camera=pan+left"))["clips"] == []
    assert (await site.json("/api/search?q=fox&camera=zoom+in&ar=1:1&model=tiny"))["clips"]
    assert (await site.json("/api/search"))["clips"] == []
    for bad in ("camera=sideways", "ar=wide", "model=../x"):
        assert (await site.client.get(f"/api/search?q=fox&{bad}")).status == 400
    html = await site.text('/search?q="><script>alert(1)</script>')
    assert "<script>alert" not in html


async def test_nothing_non_public_appears_anywhere(site: Site) -> None:
    public = site.add(prompt="public clip", owner_id="discord:1")
    secrets = []
    for state in ("held", "hidden", "removed"):
        gid = site.add(prompt=f"secret {state}", parent_id=public, owner_id="discord:1")
        site.store.set_moderation(gid, state)
        secrets.append(gid)
    deleted = site.add(prompt="secret deleted", parent_id=public, owner_id="discord:1")
    site.community.delete(deleted)
    secrets += [deleted, site.add(prompt="secret member", hidden=True, owner_id="discord:1")]
    pages = [
        "/",
        "/?sort=top",
        "/?sort=trending",
        f"/clips/{public}",
        "/members/discord:1",
        "/search?q=secret",
        "/search?q=clip",
        "/api/clips",
        "/api/clips?sort=trending",
        f"/api/clips/{public}/lineage",
        "/api/members/discord:1",
        "/api/search?q=secret",
    ]
    for path in pages:
        text = await site.text(path)
        assert not re.search(r"secret (held|hidden|removed|deleted|member)", text), path
        assert not any(gid in text for gid in secrets), path
    for gid in secrets:
        for path in (
            f"/clips/{gid}",
            f"/api/clips/{gid}",
            f"/api/clips/{gid}/lineage",
            f"/media/{gid}.mp4",
            f"/media/{gid}.jpg",
            f"/media/{gid}.small.mp4",
        ):
            assert (await site.client.get(path)).status == 404, path
    member = await site.json("/api/members/discord:1")
    assert member["member"]["clips"] == 1


async def test_media_kinds_ranges_and_caching(site: Site) -> None:
    gid = site.add()
    small = await site.client.get(f"/media/{gid}.small.mp4")  # no small copy: the clip itself
    assert small.status == 200 and await small.read() == VIDEO
    await site.text(f"/media/{gid}.jpg", status=404)  # no poster written
    site.media.path_for(gid, "jpg").write_bytes(b"\xff\xd8jpeg")
    site.media.path_for(gid, "small.mp4").write_bytes(b"small")
    poster = await site.client.get(f"/media/{gid}.jpg")
    assert poster.status == 200 and poster.headers["Content-Type"] == "image/jpeg"
    assert await (await site.client.get(f"/media/{gid}.small.mp4")).read() == b"small"

    whole = await site.client.get(f"/media/{gid}.mp4")
    assert whole.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    etag, modified = whole.headers["ETag"], whole.headers["Last-Modified"]
    again = await site.client.get(f"/media/{gid}.mp4", headers={"If-None-Match": etag})
    assert again.status == 304
    since = await site.client.get(f"/media/{gid}.mp4", headers={"If-Modified-Since": modified})
    assert since.status == 304
    part = await site.client.get(f"/media/{gid}.mp4", headers={"Range": "bytes=-100"})
    assert part.status == 206 and await part.read() == VIDEO[-100:]
    download = await site.client.get(f"/media/{gid}.mp4?download=1")
    assert download.headers["Content-Disposition"] == f'attachment; filename="reelbot-{gid}.mp4"'
    for bad in (f"/media/{gid}.exe", f"/media/{gid}.png", f"/media/{gid}.webp"):
        assert (await site.client.get(bad)).status == 404


async def test_admin_is_off_without_a_token(sqlite_store, media) -> None:
    async with await _site(sqlite_store, media, None) as client:
        for path in ("/admin", f"/admin?token={TOKEN}", f"/admin/media/{new_id()}.mp4"):
            response = await client.get(path, headers={"Authorization": f"Bearer {TOKEN}"})
            assert response.status == 404, path


async def test_admin_needs_the_token(site: Site) -> None:
    held = site.add(prompt="waiting for review")
    site.store.set_moderation(held, "held")
    site.add(prompt="a public one")
    response = await site.client.get("/admin")
    assert response.status == 401 and "waiting" not in await response.text()
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    for header in ("Bearer wrong", f"Basic {TOKEN}", TOKEN, f"Bearer {TOKEN}x"):
        assert (await site.client.get("/admin", headers={"Authorization": header})).status == 401
    assert (await site.client.get(f"/admin/media/{held}.mp4")).status == 401

    bearer = {"Authorization": f"Bearer {TOKEN}"}
    html = await site.text("/admin", headers=bearer)
    assert "waiting for review" in html and "a public one" not in html
    assert (await site.client.get("/admin", headers=bearer)).headers["Cache-Control"] == "no-store"
    video = await site.client.get(f"/admin/media/{held}.mp4", headers=bearer)
    assert video.status == 200 and await video.read() == VIDEO
    assert "no-store" in video.headers["Cache-Control"]

    assert (await site.client.get("/admin?token=nope", allow_redirects=False)).status == 403
    login = await site.client.get(f"/admin?state=held&token={TOKEN}", allow_redirects=False)
    assert login.status == 303 and login.headers["Location"] == "/admin?state=held"
    cookie = login.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Secure" in cookie
    assert TOKEN not in cookie
    value = re.search(r"reelbot_admin=([0-9a-f]+)", cookie)
    assert value is not None
    by_cookie = await site.client.get("/admin", cookies={"reelbot_admin": value[1]})
    assert by_cookie.status == 200 and "waiting for review" in await by_cookie.text()
    bad_cookie = await site.client.get("/admin", cookies={"reelbot_admin": "0" * 64})
    assert bad_cookie.status in (200, 401)  # the jar may still hold the good one
    assert (await site.client.get("/admin?state=all", headers=bearer)).status == 400


async def test_admin_shows_the_audit_log_newest_first_in_pages(site: Site) -> None:
    moderation = ModerationStore(site.store.engine)
    site.community.set_default_flags("discord:7", "", "Mallory <b>")
    clip = new_id()
    moderation.record(
        "ban", moderator_id="discord:9", guild_id=42, target_member_id="discord:7", reason=XSS
    )
    moderation.record("hide", moderator_id="system", target_generation_id=clip, reason="3 reports")
    for n in range(50):
        moderation.record("unhide", moderator_id="discord:9", reason=f"filler {n:02}")
    bearer = {"Authorization": f"Bearer {TOKEN}"}

    first = await site.text("/admin?view=audit", headers=bearer)
    assert "filler 49" in first and "filler 00" in first and "3 reports" not in first
    assert first.index("filler 49") < first.index("filler 00")
    next_page = re.search(r'rel="next" href="(/admin\?view=audit&amp;cursor=\d+)"', first)
    assert next_page is not None
    second = await site.text(next_page[1].replace("&amp;", "&"), headers=bearer)
    assert "filler" not in second and 'rel="next"' not in second
    assert second.index("3 reports") < second.index("ban")  # newest first
    assert "automatic" in second and clip in second
    assert "Mallory &lt;b&gt;" in second and "discord:7" in second and "in server 42" in second
    assert "<script>" not in second and "&lt;script&gt;alert(1)&lt;/script&gt;" in second
    assert "<img" not in second

    assert (await site.client.get("/admin?view=audit")).status == 401
    assert (await site.client.get("/admin?view=logs", headers=bearer)).status == 400
    for cursor in ("abc", "-1", "9" * 40):
        bad = await site.client.get(f"/admin?view=audit&cursor={cursor}", headers=bearer)
        assert bad.status == 400, cursor


async def test_the_audit_log_is_not_there_without_an_admin_token(sqlite_store, media) -> None:
    ModerationStore(sqlite_store.engine).record("ban", moderator_id="discord:9", reason="spam")
    async with await _site(sqlite_store, media, None) as client:
        for headers in ({}, {"Authorization": f"Bearer {TOKEN}"}):
            response = await client.get("/admin?view=audit", headers=headers)
            assert response.status == 404 and "spam" not in await response.text()


async def test_metrics(site: Site) -> None:
    gid = site.add()
    site.store.set_moderation(site.add(), "held")
    await site.client.get(f"/clips/{gid}")
    await site.client.get(f"/clips/{new_id()}")
    await site.client.get("/no/such/page")
    response = await site.client.get("/metrics")
    assert response.status == 200 and response.content_type == "text/plain"
    text = await response.text()
    assert (
        'reelbot_gallery_requests_total{method="GET",route="/clips/{id}",status="200"} 1.0' in text
    )
    assert (
        'reelbot_gallery_requests_total{method="GET",route="/clips/{id}",status="404"} 1.0' in text
    )
    assert 'route="unmatched",status="404"' in text
    assert 'reelbot_gallery_request_seconds_bucket{le="0.05",route="/clips/{id}"}' in text
    assert 'reelbot_gallery_clips{status="done"} 2.0' in text
    assert "reelbot_gallery_public_clips 1.0" in text
    assert gid not in text
