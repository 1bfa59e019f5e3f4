"""GET /v1/clips/{id}/events: a real aiohttp client reads the stream while the clip's progress
is published to the real Redis, resumes with Last-Event-ID, and learns the end from the gallery
row when the stream is gone."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest

from api import events
from core.flags import parse_request
from core.spec import CANCELLED, ProgressEvent
from gallery.models import GenerationCreate, Moderation
from jobs.events import publish_event
from jobs.keys import events_key
from tests.api.conftest import MEMBER, Api
from tests.gallery.factories import new_id
from tests.harness.waiting import eventually

pytestmark = pytest.mark.timeout(60)


@dataclass
class Message:
    event: str = "message"
    id: str | None = None
    data: Any = None


class Reader:
    """An SSE client: the messages of one response, one at a time, as a browser parses them."""

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self.response = response
        self.comments: list[str] = []

    async def comment(self, timeout: float = 10) -> str:
        """The next comment line (a heartbeat), skipping nothing but blank lines."""
        raw = await asyncio.wait_for(self.response.content.readline(), timeout)
        while raw == b"\n":
            raw = await asyncio.wait_for(self.response.content.readline(), timeout)
        line = raw.decode()
        assert line.startswith(":"), f"expected a comment, got {line!r}"
        return line[1:].strip()

    async def next(self, timeout: float = 10) -> Message | None:
        """The next message (None: the server ended the stream)."""
        message = Message()
        seen = False
        while True:
            raw = await asyncio.wait_for(self.response.content.readline(), timeout)
            if not raw:
                return None
            line = raw.decode().rstrip("\n")
            if not line:
                if seen:
                    return message
                continue
            if line.startswith(":"):
                self.comments.append(line[1:].strip())
                continue
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if name == "retry":
                continue
            seen = True
            if name == "event":
                message.event = value
            elif name == "id":
                message.id = value
            elif name == "data":
                message.data = json.loads(value)


def make_clip(api: Api, line: str = "a fox in snow -seed 7") -> str:
    """A clip of the fixture token's member, asked through the API, still queued."""
    gid = new_id()
    spec = parse_request(line, capabilities=api.ctx.model_capabilities, owner_id=MEMBER)
    api.ctx.store.add_generation(GenerationCreate.from_spec(gid, spec.model_dump(mode="json")))
    api.ctx.api_clips.record(gid, api.token.split("_")[1])
    return gid


@pytest.fixture
def clip(api: Api) -> str:
    return make_clip(api)


async def publish(api: Api, gid: str, kind: str, **fields: Any) -> None:
    await publish_event(api.ctx.queue, gid, ProgressEvent(kind=kind, **fields))  # type: ignore[arg-type]


@contextlib.asynccontextmanager
async def open_stream(
    api: Api, gid: str, *, token: str | None = None, last: str | None = None
) -> AsyncIterator[Reader]:
    headers = {"Authorization": f"Bearer {token or api.token}"}
    if last is not None:
        headers["Last-Event-ID"] = last
    async with api.http.get(f"{api.url}/v1/clips/{gid}/events", headers=headers) as response:
        assert response.status == 200, await response.text()
        assert response.content_type == "text/event-stream"
        yield Reader(response)


def finish(api: Api, gid: str, **moderation: Moderation) -> None:
    api.ctx.store.mark_done(gid, media_path=f"{gid}.mp4", size_bytes=10, timings={}, **moderation)


async def test_a_client_reads_progress_live_and_the_end_from_the_row(api: Api, clip: str) -> None:
    await publish(api, clip, "queued")
    async with open_stream(api, clip) as reader:
        queued = await reader.next()
        assert queued is not None
        assert (queued.event, queued.data["id"], queued.data["status"]) == (
            "queued",
            clip,
            "queued",
        )
        await publish(api, clip, "started", worker="w-0")
        api.ctx.store.mark_rendering(clip, worker="w-0", attempt=1)
        started = await reader.next()
        assert started is not None and started.event == "started"
        for step in (1, 2):
            await publish(api, clip, "step", step=step, total=4)
            message = await reader.next()
            assert message is not None
            assert (message.event, message.data["step"], message.data["total"]) == ("step", step, 4)
            assert message.data["fraction"] == step / 4
        await publish(api, clip, "encoding", total=4)
        encoding = await reader.next()
        assert encoding is not None and encoding.data["phase"] == "encoding"
        finish(api, clip)
        await publish(api, clip, "done", media_path=f"{clip}.mp4")
        final = await reader.next()
        assert final is not None
        assert (final.event, final.id) == ("succeeded", "end")
        assert final.data["status"] == "succeeded"
        assert final.data["result"]["video_url"].endswith(f"{clip}.mp4")
        assert await reader.next() is None  # the stream ends with the clip
        ids = [queued.id, started.id, encoding.id]
        assert all(i and i != "end" for i in ids) and len(set(ids)) == 3


async def test_last_event_id_resumes_after_what_the_client_had(api: Api, clip: str) -> None:
    await publish(api, clip, "queued")
    await publish(api, clip, "started", worker="w-0")
    await publish(api, clip, "step", step=1, total=3)
    seen = []
    async with open_stream(api, clip) as reader:
        for _ in range(2):
            message = await reader.next()
            assert message is not None
            seen.append(message)
    assert [m.event for m in seen] == ["queued", "started"]
    async with open_stream(api, clip, last=seen[-1].id) as reader:
        resumed = await reader.next()
        assert resumed is not None
        assert (resumed.event, resumed.data["step"]) == ("step", 1)
        api.ctx.store.mark_failed(clip, error="the worker ran out of memory")
        await publish(api, clip, "failed", message="the worker ran out of memory")
        final = await reader.next()
        assert final is not None
        assert (final.event, final.data["error"]) == ("failed", "the worker ran out of memory")


async def test_after_the_stream_expired_the_row_says_how_it_ended(api: Api, clip: str) -> None:
    finish(api, clip, moderation=Moderation.HELD)
    assert not await api.ctx.queue.exists(events_key(clip))
    async with open_stream(api, clip) as reader:
        final = await reader.next()
        assert final is not None
        assert (final.event, final.id, final.data["status"]) == ("held", "end", "held")
        assert await reader.next() is None
    async with open_stream(api, clip, last="1700000000000-0") as reader:  # a resume, too late
        final = await reader.next()
        assert final is not None and final.event == "held"


async def test_a_client_that_has_the_end_is_told_to_stop_reconnecting(api: Api, clip: str) -> None:
    answer = await api.call("GET", f"/v1/clips/{clip}/events", headers={"Last-Event-ID": "end"})
    assert answer.status == 204
    answer = await api.call("GET", f"/v1/clips/{clip}/events", headers={"Last-Event-ID": "x"})
    assert answer.status == 400
    assert "Last-Event-ID" in answer.detail


async def test_quiet_streams_get_heartbeats_and_see_a_cancel_without_an_event(
    api: Api, clip: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(events, "HEARTBEAT_S", 0.3)
    monkeypatch.setattr(events, "POLL_S", 0.1)
    await publish(api, clip, "queued")
    async with open_stream(api, clip) as reader:
        assert (await reader.next()).event == "queued"  # type: ignore[union-attr]
        assert await reader.comment() == "keep-alive"
        assert await reader.comment() == "keep-alive"  # and again, while nothing happens
        api.ctx.store.mark_failed(clip, error=CANCELLED)  # cancelled while it waited
        final = await reader.next()
        assert final is not None
        assert (final.event, final.data["status"]) == ("cancelled", "cancelled")


def serving_requests() -> list[asyncio.Task[Any]]:
    """The server's tasks handling a request (aiohttp's RequestHandler)."""
    return [
        t for t in asyncio.all_tasks() if t.get_coro().__qualname__.startswith("RequestHandler.")
    ]


async def test_a_client_that_leaves_ends_its_handler(
    api: Api, clip: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(events, "POLL_S", 0.1)
    await publish(api, clip, "queued")
    async with open_stream(api, clip) as reader:
        assert (await reader.next()).event == "queued"  # type: ignore[union-attr]
        assert serving_requests()  # the handler follows the stream
        reader.response.close()  # the client goes away mid-stream
    await eventually(
        lambda: not serving_requests() or None, timeout=5, explain=lambda: repr(serving_requests())
    )


async def test_only_tokens_that_may_read_the_clip_follow_it(api: Api) -> None:
    hidden = make_clip(api, "a fox in snow -hide")
    answer = await api.call("GET", f"/v1/clips/{hidden}/events", token=api.issue("discord:2002"))
    assert answer.status == 404
    async with open_stream(api, hidden, token=api.issue()) as reader:  # its owner's other token
        await publish(api, hidden, "queued")
        assert (await reader.next()).event == "queued"  # type: ignore[union-attr]
    writer_only = api.issue(scopes=("clips:write",))
    answer = await api.call("GET", f"/v1/clips/{hidden}/events", token=writer_only)
    assert answer.status == 403
    assert "clips:read" in answer.detail
