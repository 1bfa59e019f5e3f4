"""`GET /v1/clips/{id}/events`: a clip's progress as Server-Sent Events.

The clip's progress stream (`jobs.events`) is replayed from its start, each entry with its
stream id as the event's `id`, so a client that reconnects with `Last-Event-ID` gets what it
missed and nothing twice. The stream ends with one final event built from the gallery row
(succeeded, held, failed or cancelled, its data the clip as `GET /v1/clips/{id}` shows it):
the row is the record, so a client that connects after the stream expired (five minutes after
the end) still learns how the clip ended. The final event's id is `end`; a client that comes
back with it gets 204, which tells an EventSource to stop reconnecting.

A comment goes out every `HEARTBEAT_S` of silence, so proxies keep the connection, and the
row is looked at then too: a clip cancelled while it waited ends its stream without an event
of its own. A client that goes away ends the handler within `POLL_S`, with nothing left running.

Event names: queued, started, step (with step, total and fraction; "phase": "encoding" while
the video is written), then held, succeeded, failed or cancelled.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from typing import Any

from aiohttp import web
from redis.asyncio import Redis

from api.auth import require_scope
from api.clips import visible_clip
from api.clipstate import clip_resource, clip_status
from api.context import ApiContext, context_of
from api.feature import Feature
from api.openapi import Answer, Operations, header_parameter, path_parameter
from api.problems import Problem
from core.ids import GENERATION_ID_PATTERN
from core.spec import ProgressEvent
from gallery.apitables import ApiClip
from gallery.models import Generation, GenerationStatus
from jobs.events import TERMINAL_KINDS, read_event
from jobs.keys import events_key

routes = web.RouteTableDef()
operations = Operations()

HEARTBEAT_S = 15.0
POLL_S = 2.0  # how long one XREAD blocks: the longest a gone client keeps its handler
SETTLE_S = 5.0  # how long the row may lag the stream's last event (the worker writes it first)
END_ID = "end"
RETRY_MS = 3000
STREAM_ID = re.compile(r"\d{1,20}-\d{1,20}")
HEADERS = {
    "Content-Type": "text/event-stream; charset=utf-8",
    "Cache-Control": "no-cache",
    "X-Accel-Buffering": "no",  # nginx: pass each event on as it comes
}


def frame(event: str | None, data: dict[str, Any] | None, event_id: str | None = None) -> bytes:
    """One SSE message. JSON never holds a raw newline, so data is one line."""
    lines = []
    if event_id is not None:
        lines.append(f"id: {event_id}")
    if event is not None:
        lines.append(f"event: {event}")
    lines.append("data: " + json.dumps(data, separators=(",", ":")))
    return ("\n".join(lines) + "\n\n").encode()


def progress_message(gid: str, event: ProgressEvent) -> tuple[str, dict[str, Any]] | None:
    """The SSE event for one progress entry; None for the end (`done`/`failed`), which the
    final event from the row stands for."""
    base: dict[str, Any] = {"id": gid, "at": event.at}
    if event.kind == "queued":
        return "queued", {**base, "status": "queued"}
    if event.kind == "started":
        return "started", {**base, "status": "running", "attempt": event.attempt}
    if event.kind in ("step", "encoding"):
        total = event.total
        step = total if event.kind == "encoding" and total else event.step
        data = {
            **base,
            "status": "running",
            "step": step,
            "total": total,
            "fraction": round(step / total, 3) if total else 0.0,
        }
        if event.kind == "encoding":
            data["phase"] = "encoding"
        return "step", data
    return None


def is_finished(row: Generation) -> bool:
    """Nothing more will happen to it on its way: rendered (perhaps held) or ended."""
    return row.status in (GenerationStatus.DONE, GenerationStatus.FAILED)


async def load_clip(ctx: ApiContext, gid: str) -> tuple[Generation, ApiClip | None] | None:
    return await asyncio.to_thread(ctx.api_clips.clip, gid)


def final_message(
    ctx: ApiContext, row: Generation, api_clip: ApiClip | None, ended: str | None = None
) -> bytes:
    """The last event: the row's state, its data the clip's JSON. `ended` is the stream's last
    word (done or failed), for a row that has not caught up with it."""
    status: str = clip_status(row)
    if not is_finished(row) and ended is not None:
        status = "succeeded" if ended == "done" else "failed"
    data = clip_resource(row, api_clip, ctx.public_url, api_url=ctx.api_url)
    return frame(status, data, END_ID)


class ClipStream:
    """One client's stream: the progress entries after `last_id`, then the final event."""

    def __init__(
        self, ctx: ApiContext, request: web.Request, response: web.StreamResponse, gid: str
    ) -> None:
        self.ctx = ctx
        self.request = request
        self.response = response
        self.gid = gid
        self.redis: Redis = ctx.queue

    def gone(self) -> bool:
        transport = self.request.transport
        return transport is None or transport.is_closing()

    async def run(self, last_id: str) -> None:
        key = events_key(self.gid)
        silent_since = time.monotonic()
        ended_at: float | None = None  # when the stream said the clip ended
        ended: str | None = None  # and how (done or failed)
        while not self.gone():
            block = None if ended_at is not None else int(POLL_S * 1000)
            replies = await self.redis.xread({key: last_id}, block=block, count=100)
            for _stream, entries in replies or ():
                for entry_id, fields in entries:
                    last_id = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
                    event = read_event(fields)
                    if event.kind in TERMINAL_KINDS:
                        ended_at, ended = ended_at or time.monotonic(), event.kind
                        continue
                    message = progress_message(self.gid, event)
                    if message is not None:
                        await self.response.write(frame(*message, last_id))
                        silent_since = time.monotonic()
            now = time.monotonic()
            quiet = now - silent_since >= HEARTBEAT_S
            if ended_at is None and not quiet:
                continue
            found = await load_clip(self.ctx, self.gid)
            if found is None:  # deleted for good while we followed it
                return
            row, api_clip = found
            if is_finished(row) or (ended_at is not None and now - ended_at >= SETTLE_S):
                await self.finish(row, api_clip, key, last_id, ended)
                return
            if ended_at is not None:  # the row is a moment behind the stream: look again
                await asyncio.sleep(0.1)
                continue
            await self.response.write(b": keep-alive\n\n")
            silent_since = now

    async def finish(
        self, row: Generation, api_clip: ApiClip | None, key: str, last_id: str, ended: str | None
    ) -> None:
        """What is left in the stream (the row may be written before the last steps are
        read), then the final event."""
        replies = await self.redis.xread({key: last_id}, count=500)
        for _stream, entries in replies or ():
            for entry_id, fields in entries:
                message = progress_message(self.gid, read_event(fields))
                if message is not None:
                    event_id = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
                    await self.response.write(frame(*message, event_id))
        await self.response.write(final_message(self.ctx, row, api_clip, ended))


@routes.get("/v1/clips/{id}/events")
async def clip_events(request: web.Request) -> web.StreamResponse:
    """The clip's progress as Server-Sent Events, from the start or after `Last-Event-ID`,
    ending with its final state."""
    ctx = context_of(request)
    token = require_scope(request, "clips:read")
    gid = request.match_info["id"]
    row, api_clip = await visible_clip(ctx, gid, token)  # the same 404 as GET /v1/clips/{id}
    last_id = request.headers.get("Last-Event-ID", "").strip()
    if last_id == END_ID:  # the client has the end already: an EventSource stops on 204
        return web.Response(status=204)
    if last_id and not STREAM_ID.fullmatch(last_id):
        raise Problem(
            400,
            "Bad Last-Event-ID",
            f"Last-Event-ID {last_id[:40]!r} is not an id this stream sent; send the `id` of "
            "the last event you received, or none to start from the beginning.",
            "bad-last-event-id",
        )
    response = web.StreamResponse(headers=HEADERS)
    await response.prepare(request)
    await response.write(f"retry: {RETRY_MS}\n\n".encode())
    stream = ClipStream(ctx, request, response, gid)
    key = events_key(gid)
    try:
        if is_finished(row) and not await ctx.queue.exists(key):
            await response.write(final_message(ctx, row, api_clip))  # the stream expired
        else:
            await stream.run(last_id or "0-0")
    except (ConnectionResetError, ConnectionError):  # the client went away mid-write
        return response
    return response


operations.add(
    "GET",
    "/v1/clips/{id}/events",
    "Follow a clip as Server-Sent Events",
    {
        200: Answer(
            "text/event-stream: queued, started, step (step, total, fraction) events with JSON "
            "data and their stream ids, then one final event (succeeded, held, failed or "
            "cancelled, id `end`) whose data is the clip as GET /v1/clips/{id} shows it; a "
            "comment every 15 s keeps the connection",
            content_type="text/event-stream",
        ),
        204: Answer("Last-Event-ID was `end`: the client has the final event already"),
        400: "Last-Event-ID is not an id this stream sent",
        401: "No valid token",
        403: "The token lacks clips:read",
        404: "No such clip, or not one this token may read",
    },
    scope="clips:read",
    parameters=[
        path_parameter("id", "The clip's id", GENERATION_ID_PATTERN),
        header_parameter(
            "Last-Event-ID", "Resume after this event (EventSource sends it by itself)"
        ),
    ],
    description="Replays the clip's progress from its start (or after Last-Event-ID), then "
    "follows it live. A clip that ended more than five minutes ago answers with its final "
    "event alone.",
)
FEATURE = Feature(routes, operations)
