"""What a prober gets at the gallery's sign-in and edge with requests no browser sends: bytes
that are not UTF-8 in credentials, sign-in bodies that cannot be read or are too large, bodies
whose encoding is broken, request lines the parser refuses, methods nobody uses. Always a 4xx
that says what was wrong, one log line, never a traceback and never the query string (it may
hold a token); and nothing a prober sends grows the server's memory without bound."""

from __future__ import annotations

import logging

import pytest

from gallery.signin import ADMIN_GATE, COOKIE, MAX_FAILURES, SESSION_S, AdminGate, client_key
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


def test_an_ipv6_client_is_limited_by_its_64_not_each_address() -> None:
    """One host usually holds a whole /64: a new address per guess must not mean new guesses."""
    failures = AdminGate(TOKEN).failures
    for host in range(MAX_FAILURES):
        failures.record(client_key(f"2001:db8:1:2::{host + 1:x}"))
    assert failures.retry_after(client_key("2001:db8:1:2:ffff::9")) is not None
    assert failures.retry_after(client_key("2001:db8:1:3::1")) is None  # another /64
    assert client_key("::ffff:192.0.2.7") == client_key("192.0.2.7") == "192.0.2.7"
    assert client_key(None) == "unknown"
