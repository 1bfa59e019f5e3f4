"""What a prober gets for hostile requests: a 400 (or 414) that says what was wrong, as a JSON
problem under /api and the error page elsewhere, never a 500; and a log line, never a traceback.
"""

from __future__ import annotations

import base64
import logging

import pytest
from aiohttp import web

from gallery.media import LocalMediaStore
from gallery.openapi import openapi_document
from gallery.paging import MAX_BIGINT, encode_position
from gallery.store import GalleryStore
from tests.gallery.factories import new_id
from tests.gallery.sites import BEARER, Site, open_site


def _cursor(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


GID = new_id()
HOSTILE = [
    str(MAX_BIGINT + 1),
    str(2**64),
    "9" * 19,
    "9" * 40,
    "%C2%B2",  # ², a digit to str.isdigit
    "%EF%BC%91",  # a fullwidth 1
    "-1",
    "0",
    "",
    "%00",
    "%FF",
    "%ED%A0%80",  # a lone surrogate, encoded
    "1e999",
    "x" * 3000,
    encode_position(MAX_BIGINT + 1),
    _cursor("fts:9999999999999999999"),
    _cursor(f"{10**19}.{GID}"),
    _cursor(f"99999999999999999999.{GID}"),
    _cursor(f"top:999999999999:{10**19}:{GID}"),
    _cursor(f"trending:1e308:{GID}"),
    _cursor(f"trending:-99999999999999999999.99999999999999999999e999:{GID}"),
]


def _requests(app: web.Application, gid: str) -> list[str]:
    """Every GET route the app serves, with each of its parameters set to each hostile value
    (the documented ones, and the old cursor name `before`)."""
    document = openapi_document("http://x")["paths"]
    urls = []
    for resource in app.router.resources():
        path = resource.canonical
        if path.startswith("/static") or not any(r.method == "GET" for r in resource):
            continue
        names = {
            p["name"] for p in document[path]["get"].get("parameters", []) if p["in"] == "query"
        }
        concrete = path.replace("{id}", gid).replace("{member}", "cli:alice")
        concrete = concrete.replace("{kind}", "mp4")
        urls += [
            f"{concrete}?{name}={value}" for name in sorted(names | {"before"}) for value in HOSTILE
        ]
    return urls


async def test_hostile_parameters_on_every_route_are_never_a_500(
    store: GalleryStore, media: LocalMediaStore
) -> None:
    """On SQLite and on PostgreSQL (the `store` fixture runs on both)."""
    async with open_site(store, media) as site:
        gid = site.add(prompt="a fox to search for")
        site.add(prompt="another fox", parent_id=gid)
        assert site.client.app is not None
        urls = _requests(site.client.app, gid)
        assert len(urls) > 300  # every route, every parameter
        for url in urls:
            response = await site.client.get(url, headers=BEARER)
            assert response.status < 500, (url, response.status, await response.text())
            if response.status < 400:
                continue
            if url.startswith("/api/"):
                assert response.content_type == "application/problem+json", url
                problem = await response.json()
                assert problem["status"] == response.status and problem["detail"], url
                assert problem["type"] == "about:blank" and problem["title"], url
            else:
                assert response.content_type == "text/html", url
                assert "Back to the newest clips" in await response.text(), url


async def test_bad_parameters_say_what_was_wrong(site: Site) -> None:
    cases = {
        "/api/clips?limit=%C2%B2": "limit must be a whole number from 1 to 100.",
        "/api/clips?limit=-1": "limit must be a whole number from 1 to 100.",
        "/api/clips?sort=best": "sort must be one of: new, top, trending.",
        f"/api/search?q=fox&cursor={encode_position(MAX_BIGINT + 1)}": "page link is not valid",
        "/api/search?q=fox&ar=%C2%B2:1": "ar must be an aspect ratio like 16:9.",
    }
    for url, message in cases.items():
        response = await site.client.get(url)
        problem = await response.json(content_type="application/problem+json")
        assert response.status == 400 and problem["title"] == "Bad Request", url
        assert message in problem["detail"] and problem["error"] == problem["detail"], url
    last = encode_position(MAX_BIGINT)
    assert (await site.json(f"/api/search?q=fox&cursor={last}"))["clips"] == []


async def test_a_url_over_8_kb_is_a_414_and_no_traceback(
    site: Site, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    for path in ("/?q=", "/api/search?q=", "/admin?cursor="):
        response = await site.client.get(path + "x" * 9000)
        problem = await response.json(content_type="application/problem+json")
        assert response.status == 414 and problem["status"] == 414, path
        assert "longer than 8192 bytes" in problem["detail"]
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]


async def test_requests_http_cannot_parse_are_one_line_each(
    site: Site, caplog: pytest.LogCaptureFixture
) -> None:
    """Past what the parser reads (a 70 KB URL, a 9 KB header), aiohttp answers a short 400;
    the log gets one warning line per request, never a traceback."""
    caplog.set_level(logging.DEBUG)
    huge_url = b"GET /?q=" + b"x" * 70_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n"
    huge_header = b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"y" * 9000 + b"\r\n\r\n"
    for request in (huge_url, huge_header):
        answer = await site.raw(request)
        assert answer.split(b" ", 2)[1] == b"400", answer[:80]
        assert len(answer) < 1000
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert [r.name for r in warnings] == ["gallery.edge", "gallery.edge"]
    assert all("cannot parse" in r.getMessage() and len(r.getMessage()) < 400 for r in warnings)
    assert not [r for r in caplog.records if r.exc_info]
