"""The moderators' view: signing in with the form, sessions that end, scripts with a bearer
token, wrong tokens limited, the audit log, and no token ever in a URL or a log line."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from gallery.media import LocalMediaStore
from gallery.moderation import ModerationStore
from gallery.signin import ADMIN_GATE, FAILURE_WINDOW_S, MAX_FAILURES, SESSION_S, AdminGate
from gallery.store import GalleryStore
from gallery.web import create_app, make_runner
from tests.gallery.factories import new_id
from tests.gallery.sites import BEARER, TOKEN, XSS, Site, open_site
from tests.harness.cli import reelbot
from tests.harness.waiting import eventually

LOGIN = "/admin/login"


def gate(site: Site) -> AdminGate:
    assert site.client.app is not None
    return site.client.app[ADMIN_GATE]


async def sign_in(site: Site, token: str = TOKEN, **headers: str) -> aiohttp.ClientResponse:
    return await site.client.post(
        LOGIN, data={"token": token}, headers=headers, allow_redirects=False
    )


def session_of(response: aiohttp.ClientResponse) -> str:
    found = re.search(r"reelbot_admin=([0-9]+\.[0-9a-f]{64})", response.headers["Set-Cookie"])
    assert found is not None, response.headers.get("Set-Cookie")
    return found[1]


async def test_admin_is_off_without_a_token(sqlite_store: GalleryStore, media) -> None:
    ModerationStore(sqlite_store.engine).record("ban", moderator_id="discord:9", reason="spam")
    async with open_site(sqlite_store, media, None) as site:
        for path in ("/admin", "/admin?view=audit", f"/admin/media/{new_id()}.mp4"):
            response = await site.client.get(path, headers=BEARER)
            assert response.status == 404 and "spam" not in await response.text(), path
        for path in (LOGIN, "/admin/logout"):
            response = await site.client.post(path, data={"token": TOKEN})
            assert response.status == 404, path


async def test_signing_in_with_the_form(site: Site) -> None:
    held = site.add(prompt="waiting for review")
    site.store.set_moderation(held, "held")
    site.add(prompt="a public one")

    form = await site.client.get("/admin")
    html = await form.text()
    assert form.status == 401 and form.headers["WWW-Authenticate"].startswith("Bearer")
    assert '<form method="post" action="/admin/login">' in html
    assert 'type="password"' in html and "waiting for review" not in html
    assert form.headers["Cache-Control"] == "no-store"

    wrong = await sign_in(site, "not the token")
    assert wrong.status == 403 and "Set-Cookie" not in wrong.headers
    assert "That admin token is not right." in await wrong.text()

    signed = await sign_in(site)
    assert signed.status == 303 and signed.headers["Location"] == "/admin"
    cookie = signed.headers["Set-Cookie"]
    for attribute in ("HttpOnly", "SameSite=Strict", "Secure", "Path=/admin", "Max-Age=43200"):
        assert attribute in cookie, attribute
    assert "expires=" in cookie.lower() and TOKEN not in cookie
    session = session_of(signed)
    page = await site.client.get("/admin", cookies={"reelbot_admin": session})
    text = await page.text()
    assert page.status == 200 and "waiting for review" in text and "a public one" not in text
    assert '<form class="signout" method="post" action="/admin/logout">' in text
    video = await site.client.get(f"/admin/media/{held}.mp4", cookies={"reelbot_admin": session})
    assert video.status == 200 and "no-store" in video.headers["Cache-Control"]

    expiry, mac = session.split(".")
    for forged in ("0" * 64, f"{int(expiry) + 1}.{mac}", f"{expiry}.{'0' * 64}", "²." + mac):
        refused = await site.client.get("/admin", cookies={"reelbot_admin": forged})
        assert refused.status == 401 and "waiting for review" not in await refused.text()


async def test_a_session_ends_after_twelve_hours(site: Site) -> None:
    now = [1_800_000_000.0]
    gate(site).clock = lambda: now[0]
    session = session_of(await sign_in(site))
    now[0] += SESSION_S - 1
    assert (await site.client.get("/admin", cookies={"reelbot_admin": session})).status == 200
    now[0] += 1
    ended = await site.client.get("/admin", cookies={"reelbot_admin": session})
    assert ended.status == 401 and 'action="/admin/login"' in await ended.text()


async def test_signing_out(site: Site) -> None:
    out = await site.client.post("/admin/logout", allow_redirects=False)
    assert out.status == 303 and out.headers["Location"] == "/admin"
    assert re.search(r"reelbot_admin=\"?\"?;.*Max-Age=0", out.headers["Set-Cookie"])


async def test_signing_out_ends_the_session_on_the_server(site: Site) -> None:
    """A copy of the cookie taken before signing out (another browser, a stolen one) is
    refused afterwards; another moderator's session is not."""
    now = [1_800_000_000.0]
    gate(site).clock = lambda: now[0]
    mine = session_of(await sign_in(site))
    now[0] += 60
    theirs = session_of(await sign_in(site))
    out = await site.client.post(
        "/admin/logout", cookies={"reelbot_admin": mine}, allow_redirects=False
    )
    assert out.status == 303
    copy = await site.client.get("/admin", cookies={"reelbot_admin": mine})
    assert copy.status == 401 and 'action="/admin/login"' in await copy.text()
    assert (await site.client.get("/admin", cookies={"reelbot_admin": theirs})).status == 200


async def test_the_token_in_a_url_no_longer_signs_in(site: Site) -> None:
    for path in (f"/admin?token={TOKEN}", f"/admin?state=held&token={TOKEN}", "/admin?token="):
        response = await site.client.get(path, allow_redirects=False)
        text = await response.text()
        assert response.status == 400 and "Set-Cookie" not in response.headers, path
        assert "sign in with the form at /admin" in text and TOKEN not in text


async def test_a_form_from_another_site_is_refused(site: Site) -> None:
    for origin in ("https://evil.example", "null", "http://clips.example"):
        refused = await sign_in(site, Origin=origin)
        assert refused.status == 403 and "Set-Cookie" not in refused.headers, origin
        assert "sent from another site" in await refused.text()
    cross = await sign_in(site, **{"Sec-Fetch-Site": "cross-site"})
    assert cross.status == 403
    out = await site.client.post("/admin/logout", headers={"Origin": "https://evil.example"})
    assert out.status == 403
    host = f"http://{site.client.host}:{site.client.port}"
    for origin in ("https://clips.example", host):
        assert (await sign_in(site, Origin=origin)).status == 303, origin


async def test_wrong_tokens_are_limited_per_address(site: Site) -> None:
    now = [1000.0]
    gate(site).failures.clock = lambda: now[0]
    for _ in range(MAX_FAILURES - 1):
        assert (await sign_in(site, "guess")).status == 403
    wrong_bearer = await site.client.get("/admin", headers={"Authorization": "Bearer guess"})
    assert wrong_bearer.status == 401  # a guess by header counts the same

    for attempt in (sign_in(site), site.client.get("/admin", headers=BEARER)):
        locked = await attempt
        assert locked.status == 429 and locked.headers["Retry-After"] == "60"
        assert "try again in 60 s" in await locked.text()
    now[0] += FAILURE_WINDOW_S / 2
    assert (await sign_in(site)).headers["Retry-After"] == "30"
    now[0] += FAILURE_WINDOW_S / 2
    assert (await sign_in(site)).status == 303  # the window moved on: the right token works
    for _ in range(MAX_FAILURES - 1):  # and success forgave the address its earlier guesses
        assert (await sign_in(site, "guess")).status == 403
    assert (await sign_in(site)).status == 303


async def test_guesses_sent_at_once_are_limited_too(site: Site) -> None:
    """Twelve wrong sign-ins whose bodies arrive only after all twelve passed the limit's
    check: at most MAX_FAILURES are judged, the rest are 429."""
    checked, release = [], asyncio.Event()
    failures = gate(site).failures
    retry_after = failures.retry_after

    def counted(address: str) -> int | None:
        checked.append(address)
        return retry_after(address)

    failures.retry_after = counted  # type: ignore[method-assign]

    async def body() -> AsyncIterator[bytes]:
        yield b"token="  # the headers go out with the first chunk
        await release.wait()
        yield b"guess"

    form = {"Content-Type": "application/x-www-form-urlencoded"}
    guesses = [
        asyncio.create_task(site.client.post(LOGIN, data=body(), headers=form)) for _ in range(12)
    ]
    await eventually(lambda: len(checked) >= len(guesses))
    release.set()
    statuses = sorted([(await answer).status for answer in guesses])
    assert statuses == [403] * MAX_FAILURES + [429] * (len(guesses) - MAX_FAILURES)


async def test_scripts_use_a_bearer_token(site: Site) -> None:
    held = site.add(prompt="waiting for review")
    site.store.set_moderation(held, "held")
    for header in ("Bearer wrong", f"Basic {TOKEN}", TOKEN, f"Bearer {TOKEN}x"):
        assert (await site.client.get("/admin", headers={"Authorization": header})).status == 401
    assert (await site.client.get(f"/admin/media/{held}.mp4")).status == 401
    html = await site.text("/admin", headers=BEARER)
    assert "waiting for review" in html
    video = await site.client.get(f"/admin/media/{held}.mp4", headers=BEARER)
    assert video.status == 200 and "no-store" in video.headers["Cache-Control"]
    assert (await site.client.get("/admin?state=all", headers=BEARER)).status == 400


async def test_the_access_log_never_shows_a_query_string(
    sqlite_store: GalleryStore, media: LocalMediaStore, caplog: pytest.LogCaptureFixture
) -> None:
    """What `reelbot gallery` logs per request: the path, never what follows the `?`."""
    app = create_app(sqlite_store, media, public_url="http://x", admin_token=TOKEN)
    runner = make_runner(app)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        base = f"http://127.0.0.1:{runner.addresses[0][1]}"
        caplog.set_level(logging.INFO, logger="gallery.web")
        async with aiohttp.ClientSession() as session:
            for path in (f"/admin?token={TOKEN}", "/search?q=my+private+words", "/?cursor=abc"):
                async with session.get(base + path) as response:
                    await response.read()
    finally:
        await runner.cleanup()
    lines = [r.getMessage() for r in caplog.records if r.name == "gallery.web"]
    assert any('"GET /admin" 400' in line for line in lines), lines
    assert any('"GET /search" 200' in line for line in lines), lines
    assert not any(TOKEN in line or "private" in line or "?" in line for line in lines), lines


def test_a_short_admin_token_refuses_to_start(tmp_path: Path) -> None:
    short = "only-seventeen-ch"
    done = reelbot(
        "gallery",
        env={
            "REELBOT_ADMIN_TOKEN": short,
            "REELBOT_DATA_DIR": str(tmp_path),
            "REELBOT_GALLERY_PORT": "0",
        },
    )
    assert done.returncode == 3
    assert done.stderr.strip().splitlines() == [
        "reelbot: REELBOT_ADMIN_TOKEN: 17 characters is too short to resist guessing; use at "
        "least 32 (e.g. the output of `openssl rand -hex 32`)."
    ]
    assert short not in done.stderr and not (tmp_path / "reelbot.db").exists()


async def test_the_audit_log_newest_first_in_pages(site: Site) -> None:
    moderation = ModerationStore(site.store.engine)
    site.community.set_default_flags("discord:7", "", "Mallory <b>")
    clip = new_id()
    moderation.record(
        "ban", moderator_id="discord:9", guild_id=42, target_member_id="discord:7", reason=XSS
    )
    moderation.record("hide", moderator_id="system", target_generation_id=clip, reason="3 reports")
    for n in range(50):
        moderation.record("unhide", moderator_id="discord:9", reason=f"filler {n:02}")

    first = await site.text("/admin?view=audit", headers=BEARER)
    assert "filler 49" in first and "filler 00" in first and "3 reports" not in first
    assert first.index("filler 49") < first.index("filler 00")
    next_page = re.search(r'rel="next" href="(/admin\?view=audit&amp;cursor=\d+)"', first)
    assert next_page is not None
    second = await site.text(next_page[1].replace("&amp;", "&"), headers=BEARER)
    assert "filler" not in second and 'rel="next"' not in second
    assert second.index("3 reports") < second.index("ban")  # newest first
    assert "automatic" in second and clip in second
    assert "Mallory &lt;b&gt;" in second and "discord:7" in second and "in server 42" in second
    assert "<script>" not in second and "&lt;script&gt;alert(1)&lt;/script&gt;" in second
    assert "<img" not in second

    assert (await site.client.get("/admin?view=audit")).status == 401
    assert (await site.client.get("/admin?view=logs", headers=BEARER)).status == 400
    for cursor in ("abc", "-1", "9" * 40, "%C2%B2", "9" * 19, str(2**63), "%EF%BC%91"):
        bad = await site.client.get(f"/admin?view=audit&cursor={cursor}", headers=BEARER)
        assert bad.status == 400, cursor
        assert "page link is not valid" in await bad.text()
    last = await site.client.get(f"/admin?view=audit&cursor={2**63 - 1}", headers=BEARER)
    assert last.status == 200 and "filler 49" in await last.text()
