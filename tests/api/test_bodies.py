"""Request bodies as the network delivers them: whole however many pieces they arrive in, and
capped however they are sent (a declared length over the cap refused before a byte of the body
is read, a chunked form held to the cap as it is read)."""

from __future__ import annotations

import asyncio
import io
import json
import random
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit

from PIL import Image

from tests.api.conftest import Api, open_api

BOUNDARY = "reelbot-test-boundary"
PIECE_PAUSE_S = 0.2  # long enough that the handler runs before the rest arrives


async def raw_request(api: Api, head: str, pieces: list[bytes]) -> tuple[int, dict]:
    """Send the request head, then each piece of the body after a pause; the status and the
    JSON body of the answer."""
    address = urlsplit(api.url)
    reader, writer = await asyncio.open_connection(address.hostname, address.port)
    try:
        writer.write(head.encode())
        for piece in pieces:
            await writer.drain()
            await asyncio.sleep(PIECE_PAUSE_S)
            writer.write(piece)
        await writer.drain()
        # the answer by its length, not the connection's end: a server that answers before
        # the body is in keeps reading (lingering) for a while before it closes
        headers = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
        status_line, *lines = headers.decode().split("\r\n")
        fields = dict(line.split(": ", 1) for line in lines if ": " in line)
        body = await reader.readexactly(int(fields["Content-Length"]))
    finally:
        writer.close()
    return int(status_line.split()[1]), json.loads(body)


def head(api: Api, path: str, content_type: str, length: int) -> str:
    return (
        f"POST {path} HTTP/1.1\r\nHost: api.test\r\nConnection: close\r\n"
        f"Authorization: Bearer {api.token}\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {length}\r\n\r\n"
    )


def noisy_png(side: int) -> bytes:
    """A picture that does not compress: about 3 bytes a pixel."""
    noise = random.Random(side).randbytes(side * side * 3)
    out = io.BytesIO()
    Image.frombytes("RGB", (side, side), noise).save(out, "PNG")
    return out.getvalue()


def multipart(*parts: tuple[str, bytes, str | None]) -> bytes:
    out = b""
    for name, value, filename in parts:
        disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        out += f"--{BOUNDARY}\r\nContent-Disposition: {disposition}\r\n\r\n".encode()
        out += value + b"\r\n"
    return out + f"--{BOUNDARY}--\r\n".encode()


async def test_a_json_body_that_arrives_in_pieces_is_read_whole(api: Api) -> None:
    body = json.dumps({"prompt": "a fox in the snow " * 60 + "-seed 7"}).encode()
    status, answer = await raw_request(
        api, head(api, "/v1/clips", "application/json", len(body)), [body[:500], body[500:]]
    )
    assert status == 202, answer
    assert api.ctx.store.get(answer["id"]).seed == 7


async def test_a_batch_that_arrives_in_pieces_is_read_whole(api: Api) -> None:
    body = json.dumps({"clips": [{"prompt": f"a fox {n} " * 20} for n in range(3)]}).encode()
    status, answer = await raw_request(
        api, head(api, "/v1/batches", "application/json", len(body)), [body[:300], body[300:]]
    )
    assert status == 202, answer
    assert answer["size"] == 3


async def test_a_form_field_that_arrives_in_pieces_is_read_whole(api: Api) -> None:
    prompt = b"a fox in the snow " * 60 + b"-seed 7"
    body = multipart(("prompt", prompt, None))
    kind = f"multipart/form-data; boundary={BOUNDARY}"
    status, answer = await raw_request(
        api, head(api, "/v1/clips", kind, len(body)), [body[:200], body[200:]]
    )
    assert status == 202, answer
    assert api.ctx.store.get(answer["id"]).prompt.startswith("a fox in the snow a fox")


async def test_an_upload_declared_larger_than_the_cap_is_refused_before_it_is_sent(
    api: Api,
) -> None:
    """200 MB announced, a few bytes sent: the answer comes without the rest (a server that
    read first would wait for it, and this test would time out)."""
    kind = f"multipart/form-data; boundary={BOUNDARY}"
    start = multipart(("video", b"\0" * 1000, "walk.mp4"))[:1000]
    status, answer = await raw_request(api, head(api, "/v1/clips", kind, 200_000_000), [start])
    assert status == 413
    assert answer["type"] == "urn:reelbot:problem:body-too-large"
    assert f"{26 * 1024 * 1024:,} bytes" in answer["detail"]
    assert api.ctx.store.list_unfinished() == []


async def test_a_chunked_form_is_held_to_the_cap_as_it_is_read(
    redis_server, redis, tmp_path: Path
) -> None:
    """No Content-Length for the middleware to check: the parts are counted as they come."""
    data = tmp_path / "data"

    async def chunks() -> AsyncIterator[bytes]:
        body = multipart(("prompt", b"-motion 3", None), ("image", noisy_png(64), "fox.png"))
        for start in range(0, len(body), 1024):
            yield body[start : start + 1024]

    async with open_api(
        redis_server.url, f"sqlite:///{data / 'r.db'}", data, api_max_body_bytes=2048
    ) as api:
        assert len(noisy_png(64)) > 2048  # over this API's cap, far under /animate's 10 MB
        answer = await api.call(
            "POST",
            "/v1/clips",
            data=chunks(),
            headers={"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"},
        )
        assert answer.status == 413, answer.body
        assert answer.body["type"] == "urn:reelbot:problem:body-too-large"
        assert "2,048 bytes" in answer.detail
        assert api.ctx.store.list_unfinished() == []


async def test_a_form_with_too_many_fields_is_refused(api: Api) -> None:
    body = multipart(*((f"field{n}", b"x", None) for n in range(200)))
    answer = await api.call(
        "POST",
        "/v1/clips",
        data=body,
        headers={"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"},
    )
    assert answer.status == 400
    assert "at most 32 fields" in answer.detail
