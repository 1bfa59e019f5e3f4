"""What a prober gets at the gallery's sign-in and edge with requests no browser sends: bytes
that are not UTF-8 in credentials, sign-in bodies that cannot be read or are too large, bodies
whose encoding is broken, request lines the parser refuses, methods nobody uses. Always a 4xx
that says what was wrong, one log line, never a traceback and never the query string (it may
hold a token); and nothing a prober sends grows the server's memory without bound."""

from __future__ import annotations

import contextlib
import logging

import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request
from prometheus_client.exposition import generate_latest

from gallery.media import LocalMediaStore
from gallery.metrics import METRICS
from gallery.signin import ADMIN_GATE, COOKIE, MAX_FAILURES, SESSION_S, AdminGate, client_key
from gallery.store import GalleryStore
from gallery.web import create_app
from tests.gallery.sites import TOKEN, Site

LOGIN_FORM = b"application/x-www-form-urlencoded"


def request(
    method: bytes, path: bytes, headers: dict[bytes, bytes] | None = None, body: bytes = b""
) -> bytes:
    lines = [method + b" " + path + b" HTTP/1.1", b"Host: 127.0.0.1", b"Connection: close"]
    lines += [name + b": " + value for name, value in (headers or {}).items()]
    if body or method == b"POST":
        lines.append(b"Content-Length: %d" % len(body))
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def gate(site: Site) -> AdminGate:
    assert site.client.app is not None
    return site.client.app[ADMIN_GATE]


def status_of(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1])


def tracebacks(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        f"{r.name}: {r.getMessage()}"
        for r in caplog.records
        if r.exc_info or r.levelno >= logging.ERROR
    ]


async def test_credentials_that_are_not_utf8_are_refused_not_a_500(
    site: Site, caplog: pytest.LogCaptureFixture
) -> None:
    media = b"/admin/media/" + b"a" * 32 + b".mp4"
    expiry = str(int(gate(site).clock()) + SESSION_S).encode()
    for path, headers, status in [
        (b"/admin", {b"Authorization": b"Bearer \xff\xfe"}, 401),
        (media, {b"Authorization": b"Bearer \xff"}, 401),
        (b"/admin", {b"Cookie": COOKIE.encode() + b"=" + expiry + b".\xff"}, 401),
        (media, {b"Cookie": COOKIE.encode() + b"=" + expiry + b"." + b"\xe9" * 64}, 401),
    ]:
        answer = await site.raw(request(b"GET", path, headers))
        assert status_of(answer) == status, (path, headers, answer[:200])
    assert tracebacks(caplog) == []


async def test_a_sign_in_body_that_cannot_be_read_is_a_400(
    site: Site, caplog: pytest.LogCaptureFixture
) -> None:
    part = b'--XX\r\nContent-Disposition: form-data; name="token"\r\n'
    bodies = [
        ({b"Content-Type": LOGIN_FORM}, b"token=\xff\xfe"),
        ({b"Content-Type": LOGIN_FORM + b"; charset=bogus"}, b"token=abc"),
        ({b"Content-Type": b"multipart/form-data"}, b"token=abc"),
        ({b"Content-Type": b"multipart/form-data; boundary=XX"}, b"garbage"),
        (
            {b"Content-Type": b"multipart/form-data; boundary=XX"},
            part + b"Content-Type: text/plain; charset=bogus\r\n\r\nabc\r\n--XX--\r\n",
        ),
        ({b"Content-Type": LOGIN_FORM, b"Content-Encoding": b"gzip"}, b"not gzip at all"),
    ]
    for headers, body in bodies:
        answer = await site.raw(request(b"POST", b"/admin/login", headers, body))
        assert status_of(answer) == 400, (headers, body, answer[:200])
        assert b"could not be read" in answer and b"sign in with the form" in answer, answer
    assert tracebacks(caplog) == []
    # Not a guess at the token, so it does not count against the address.
    assert gate(site).failures.retry_after("127.0.0.1") is None
    signed_in = await site.client.post("/admin/login", data={"token": TOKEN}, allow_redirects=False)
    assert signed_in.status == 303


async def test_a_body_that_cannot_be_decoded_is_one_log_line(
    site: Site, caplog: pytest.LogCaptureFixture
) -> None:
    """Any route, not only sign-in: aiohttp reads what is left of a body after the handler,
    so a broken gzip body on a GET once logged an ERROR with three tracebacks per request."""
    caplog.set_level(logging.DEBUG)
    for path, encoding in [(b"/", b"gzip"), (b"/api/clips", b"deflate")]:
        answer = await site.raw(
            request(b"GET", path, {b"Content-Encoding": encoding}, b"not compressed")
        )
        assert status_of(answer) == 200, answer[:200]
    assert tracebacks(caplog) == []
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 2 and all("content-encoding" in w for w in warnings), warnings


async def test_a_request_line_the_parser_refuses_never_logs_its_query(
    site: Site, caplog: pytest.LogCaptureFixture
) -> None:
    """aiohttp's parse errors quote the request line; the query in it (an old sign-in link's
    token, a search) must not reach the log, at any level."""
    caplog.set_level(logging.DEBUG)
    secret = b"SECRET" + TOKEN.encode()
    for line in (
        b"GET /admin?token=" + secret + b" HTTP/9.9",  # a bad version
        b"GET /admin?token=" + secret + b"\x01 HTTP/1.1",  # a control character
        b"GET /admin?token=" + secret + b" x HTTP/1.1",  # a space in the URL
        b"FOO /admin?token=" + secret + b" HTTP/1.1",  # a method the parser does not know
    ):
        answer = await site.raw(line + b"\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert status_of(answer) == 400, (line, answer[:200])
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "SECRET" not in logged and TOKEN not in logged, logged
    assert tracebacks(caplog) == []
    refused = [r.getMessage() for r in caplog.records if "cannot parse" in r.getMessage()]
    assert len(refused) == 4 and all(len(m) < 200 for m in refused), refused


async def test_a_sign_in_body_larger_than_a_form_is_refused_unread(site: Site) -> None:
    """Parsing a 1 MB multipart body of tiny parts held the event loop for a quarter second,
    for anyone; a sign-in form is a few dozen bytes."""
    parts = b"".join(
        b'--XX\r\nContent-Disposition: form-data; name="a"\r\n\r\nb\r\n' for _ in range(2000)
    )
    big = await site.client.post(
        "/admin/login",
        data=parts + b"--XX--\r\n",
        headers={"Content-Type": "multipart/form-data; boundary=XX"},
    )
    assert big.status == 413
    assert "at most 16 KB" in await big.text()
    assert gate(site).failures.retry_after("127.0.0.1") is None


def test_an_ipv6_client_is_limited_by_its_64_not_each_address() -> None:
    """One host usually holds a whole /64: a new address per guess must not mean new guesses."""
    failures = AdminGate(TOKEN).failures
    for host in range(MAX_FAILURES):
        failures.record(client_key(f"2001:db8:1:2::{host + 1:x}"))
    assert failures.retry_after(client_key("2001:db8:1:2:ffff::9")) is not None
    assert failures.retry_after(client_key("2001:db8:1:3::1")) is None  # another /64
    assert client_key("::ffff:192.0.2.7") == client_key("192.0.2.7") == "192.0.2.7"
    assert client_key(None) == "unknown"


async def test_odd_methods_share_one_metrics_label(
    sqlite_store: GalleryStore, media: LocalMediaStore
) -> None:
    """aiohttp's pure-Python parser accepts any method name; each one a new time series would
    grow the metrics without bound."""
    app = create_app(sqlite_store, media, public_url="http://x")
    metrics = app[METRICS]
    for method in ("X-PROBE-1", "X-PROBE-2", "PROPFIND", "POST"):
        request = make_mocked_request(method, "/", app=app)
        request._match_info = await app.router.resolve(request)
        with contextlib.suppress(web.HTTPException):
            await metrics.middleware(request, request.match_info.handler)
    scraped = generate_latest(metrics.registry).decode()
    assert "X-PROBE" not in scraped and "PROPFIND" not in scraped
    assert 'method="other",route="unmatched",status="405"} 3.0' in scraped
    assert 'method="POST",route="unmatched",status="405"} 1.0' in scraped
