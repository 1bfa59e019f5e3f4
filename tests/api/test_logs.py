"""No log line of the API's carries a token or a webhook secret: not for a request that
parses, nor one aiohttp can't parse (its parser quotes the bad header line), nor a crash whose
text quotes what it was given."""

from __future__ import annotations

import asyncio
import logging
from urllib.parse import urlsplit

import pytest

from tests.api.conftest import Api


async def raw(api: Api, request: bytes) -> bytes:
    """Send bytes as they are and return the start of the answer."""
    address = urlsplit(api.url)
    reader, writer = await asyncio.open_connection(address.hostname, address.port)
    try:
        writer.write(request)
        await writer.drain()
        return await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
    finally:
        writer.close()


def secret_of(token: str) -> str:
    return token.split("_", 2)[2]


async def test_no_log_line_quotes_a_token_or_a_webhook_secret(
    api: Api, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    caplog.set_level(logging.DEBUG)
    token = api.token
    assert (await api.call("GET", f"/v1/clips?token={token}")).status == 200
    made = await api.call("POST", "/v1/webhooks", json_body={"url": "https://example.com/h"})
    assert made.status == 201, made.body
    webhook_secret = made.body["secret"]
    mistyped = token[:-1] + ("A" if token[-1] != "A" else "B")
    assert (await api.call("GET", "/v1/clips", token=mistyped)).status == 401

    # requests aiohttp can't parse: its parser's error quotes the header line
    head = b"GET /v1/clips HTTP/1.1\r\nHost: api.test\r\n"
    for bad in (
        b"Authorization: Bearer " + token.encode() + b"\x01\r\n\r\n",  # a control character
        b"Authorization : Bearer " + token.encode() + b"\r\n\r\n",  # a space before the colon
        b"Authorization: Bearer " + token.encode() + b"A" * 9000 + b"\r\n\r\n",  # too long
    ):
        assert (await raw(api, head + bad)).split(b"\r\n")[0].endswith(b" 400 Bad Request")

    # a crash whose message quotes what it was given is logged with a ref, its secrets blanked
    def crash(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError(f"query failed: [parameters: ({token!r}, {webhook_secret!r})]")

    monkeypatch.setattr(api.ctx.api_clips, "list_owned", crash)
    answer = await api.call("GET", "/v1/clips")
    assert answer.status == 500

    logged = caplog.text
    assert "Error handling request" in logged  # the unparsable requests were logged
    assert f"ref {answer.body['ref']}" in logged and "query failed" in logged
    for secret in (secret_of(token), secret_of(mistyped), webhook_secret.removeprefix("whsec_")):
        assert secret not in logged
