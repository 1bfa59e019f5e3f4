"""`/v1/clips`: ask for a clip, read one, cancel one, list a member's.

`POST /v1/clips` takes a request as `api.asking` does (the Discord path's reader, screening,
caps and fair queue) and answers 202 with where it stands. With an `Idempotency-Key` the same
key and body give the same clip (202 again, `Idempotent-Replayed: true`), another body a 409,
and a key whose first request is still running a 409 that says so; keys are kept 24 h.
A hidden, deleted or moderated clip is its owner's tokens' alone: to anyone else it is a 404,
as if it were not there.
"""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any

from aiohttp import web

from api.asking import NOT_FOUND, Accepted, ask_clip, visible_to
from api.auth import require_scope
from api.clipstate import clip_resource, clip_status, links
from api.context import ApiContext, context_of
from api.feature import Feature
from api.openapi import (
    Answer,
    Operations,
    header_parameter,
    path_parameter,
    query_parameter,
)
from api.problems import Problem
from api.reading import read_clip_request
from api.schemas import Cancelled, Clip, ClipAccepted, ClipLinks, ClipPage, ClipRequest
from core.ids import GENERATION_ID_PATTERN, is_generation_id
from core.spec import RenderSpec
from gallery.api_clips import MAX_LIMIT
from gallery.apitables import ApiClip, ApiToken
from gallery.models import Generation
from gallery.paging import InvalidCursor
from intake.cancel import cancel_request
from jobs.events import read_event
from jobs.keys import events_key

log = logging.getLogger(__name__)

routes = web.RouteTableDef()
operations = Operations()
PURGE_EVERY_S = 3600.0


async def purge_idempotency_keys(ctx: ApiContext) -> None:
    """Forget Idempotency-Keys older than a day, hourly (an older key already counts as
    unused: this only keeps the table small)."""
    while True:
        try:
            gone = await asyncio.to_thread(ctx.api_clips.purge_keys)
            if gone:
                log.info("forgot %d idempotency keys older than a day", gone)
        except Exception:  # a database blip must not end the loop
            log.exception("purging idempotency keys failed")
        await asyncio.sleep(PURGE_EVERY_S)


FEATURE = Feature(routes, operations, loops=(purge_idempotency_keys,))

IDEMPOTENCY_KEY = re.compile(r"[\x21-\x7e]{1,255}")
PAGE_SIZE = 24
PROGRESS_LOOKBACK = 20  # events read back to find the latest step

_ID = path_parameter("id", "The clip's id", GENERATION_ID_PATTERN)
_WRITE_REFUSALS: dict[int, Answer | str] = {
    401: "No token, or one that is revoked or mistyped",
    403: "The token lacks the scope, or its member is banned",
    429: Answer(
        "Over the token's rate limit, or the member's caps (as in Discord)",
        headers={"Retry-After": "Seconds to wait"},
    ),
}


def _load(ctx: ApiContext, gid: str) -> tuple[Generation, ApiClip | None] | None:
    return ctx.api_clips.clip(gid) if is_generation_id(gid) else None


async def visible_clip(
    ctx: ApiContext, gid: str, token: ApiToken
) -> tuple[Generation, ApiClip | None]:
    """The clip if `token` may see it; otherwise a 404, the same as for no clip at all."""
    found = await asyncio.to_thread(_load, ctx, gid)
    if found is None or not visible_to(found[0], token) or found[0].deleted_at is not None:
        raise Problem(404, "No such clip", NOT_FOUND, "not-found")
    return found


async def progress_of(ctx: ApiContext, gid: str) -> dict[str, int] | None:
    """The latest step a worker announced for the clip, from its event stream."""
    entries = await ctx.queue.xrevrange(events_key(gid), count=PROGRESS_LOOKBACK)
    for _entry_id, fields in entries:
        event = read_event(fields)
        if event.kind == "step" and event.total:
            return {"step": event.step, "total": event.total}
    return None


async def resource(
    ctx: ApiContext, row: Generation, api_clip: ApiClip | None, token: ApiToken
) -> dict[str, Any]:
    """The clip's JSON with what Redis knows of it now: place, ETA, progress."""
    status = clip_status(row)
    position = eta = progress = None
    if status == "queued":
        position = await ctx.admission.position(row.id)
    if status in ("queued", "running"):
        eta = await ctx.admission.eta(row.id, RenderSpec.model_validate(row.spec))
    if status == "running":
        progress = await progress_of(ctx, row.id)
    children = await asyncio.to_thread(ctx.api_clips.children, row.id, viewer=token.member_id)
    return clip_resource(
        row,
        api_clip,
        ctx.public_url,
        api_url=ctx.api_url,
        progress=progress,
        queue_position=position,
        eta_s=eta,
        children=children,
    )


def _accepted_json(ctx: ApiContext, accepted: Accepted) -> dict[str, Any]:
    body = ClipAccepted(
        id=accepted.generation_id,
        status="held" if accepted.held else "queued",
        queue_position=None if accepted.held else accepted.position,
        eta_s=round(accepted.eta_s, 1) if accepted.eta_s is not None else None,
        notes=accepted.notes,
        links=ClipLinks(
            **links(accepted.generation_id, api_url=ctx.api_url, public_url=ctx.public_url)
        ),
    )
    return body.model_dump(mode="json")


def _answer(ctx: ApiContext, body: dict[str, Any], *, replayed: bool = False) -> web.Response:
    headers = {"Location": body["links"]["self"]}
    if replayed:
        headers["Idempotent-Replayed"] = "true"
    return web.json_response(body, status=202, headers=headers)


# --- POST /v1/clips --------------------------------------------------------------------------

operations.add(
    "POST",
    "/v1/clips",
    "Ask for a clip (or a follow-up of one)",
    {
        202: Answer(
            "Queued, or held for a moderator's review",
            ClipAccepted,
            headers={"Location": "The clip's URL"},
        ),
        400: "A body that can't be read",
        404: "`from` names no clip this token may see",
        409: "The Idempotency-Key was used with another body, or its request is still running; "
        "or the clip to edit is still rendering, held for review or failed",
        413: "The body or its upload is too large",
        415: "Neither JSON nor multipart/form-data",
        422: "Settings, prompt, upload or webhook URL refused (the words Discord uses)",
        **_WRITE_REFUSALS,
        503: "Redis or the database is not answering, or no worker of the fleet edits clips "
        "(`no-editor`) or makes pictures speak (`no-speaker`)",
    },
    scope="clips:write",
    body=ClipRequest,
    multipart=ClipRequest,
    parameters=[
        header_parameter(
            "Idempotency-Key",
            "Any text up to 255 printable characters; the same key and body give the same "
            "clip for 24 hours",
        )
    ],
    description="Multipart: the same fields as form fields, plus one file, `image` (a picture "
    "to animate, to add or swap into a clip with action add or swap, or to speak with `speak`, "
    "up to 10 MB) or `video` (a video to restyle, up to 25 MB); with `speak`, a `voice` file "
    "too (WAV, MP3, OGG/Opus or M4A, up to 20 s and 10 MB) unless `say` gives the line.",
)


@routes.post("/v1/clips")
async def post_clip(request: web.Request) -> web.Response:
    ctx = context_of(request)
    token = require_scope(request, "clips:write")
    await ctx.rate_limit.hit(token.id)
    key = request.headers.get("Idempotency-Key")
    if key is not None and not IDEMPOTENCY_KEY.fullmatch(key):
        raise Problem(
            400,
            "Bad Idempotency-Key",
            "An Idempotency-Key is 1 to 255 printable ASCII characters, no spaces (a UUID "
            "does well).",
            "bad-idempotency-key",
        )
    asked = await read_clip_request(request)
    if key is not None:
        earlier = await asyncio.to_thread(ctx.api_clips.claim_key, token.id, key, asked.body_hash)
        if earlier is not None:
            return await _replay(ctx, token, earlier.body_hash, earlier.resource, asked.body_hash)
    try:
        accepted = await ask_clip(ctx, token, asked)
    except BaseException:
        if key is not None:
            await asyncio.shield(asyncio.to_thread(ctx.api_clips.drop_key, token.id, key))
        raise
    if key is not None:
        await asyncio.to_thread(
            ctx.api_clips.finish_key, token.id, key, f"clip:{accepted.generation_id}"
        )
    return _answer(ctx, _accepted_json(ctx, accepted))


async def _replay(
    ctx: ApiContext, token: ApiToken, earlier_hash: str, made: str, body_hash: str
) -> web.Response:
    if earlier_hash != body_hash:
        raise Problem(
            409,
            "Idempotency-Key reused",
            "This Idempotency-Key was used with a different request in the last 24 hours. "
            "Use a new key for a new request.",
            "idempotency-key-reused",
        )
    if not made.startswith("clip:"):
        raise Problem(
            409,
            "Request in progress",
            "A request with this Idempotency-Key is still being handled; ask again in a "
            "moment for its answer.",
            "idempotency-in-progress",
            headers={"Retry-After": "1"},
        )
    found = await visible_clip(ctx, made.removeprefix("clip:"), token)
    data = await resource(ctx, *found, token)
    body = {
        "id": data["id"],
        "status": data["status"],
        "queue_position": data["queue_position"],
        "eta_s": data["eta_s"],
        "notes": [],
        "links": data["links"],
    }
    return _answer(ctx, body, replayed=True)


# --- GET /v1/clips/{id} ----------------------------------------------------------------------

operations.add(
    "GET",
    "/v1/clips/{id}",
    "A clip: status, progress, settings, result and lineage",
    {
        200: Answer("The clip", Clip),
        404: "No clip this token may see",
        401: "No token, or one that is revoked or mistyped",
        403: "The token lacks clips:read, or its member is banned",
    },
    scope="clips:read",
    parameters=[_ID],
)


@routes.get("/v1/clips/{id}")
async def get_clip(request: web.Request) -> web.Response:
    ctx = context_of(request)
    token = require_scope(request, "clips:read")
    row, api_clip = await visible_clip(ctx, request.match_info["id"], token)
    return web.json_response(await resource(ctx, row, api_clip, token))


# --- POST /v1/clips/{id}/cancel ----------------------------------------------------------------

operations.add(
    "POST",
    "/v1/clips/{id}/cancel",
    "Cancel a clip of yours that is waiting or rendering",
    {
        200: Answer("Taken out of the queue: cancelled", Cancelled),
        202: Answer("A worker has it: it stops at its next step", Cancelled),
        404: "No clip this token may see",
        409: "It has already finished, or a moderator has just decided on it",
        **_WRITE_REFUSALS,
    },
    scope="clips:write",
    parameters=[_ID],
)


@routes.post("/v1/clips/{id}/cancel")
async def cancel_clip(request: web.Request) -> web.Response:
    ctx = context_of(request)
    token = require_scope(request, "clips:write")
    await ctx.rate_limit.hit(token.id)
    row, _ = await visible_clip(ctx, request.match_info["id"], token)
    if row.owner_id != token.member_id:
        raise Problem(
            403,
            "Not yours",
            "Only the member who asked for this clip can cancel it.",
            "not-owner",
        )
    done = await cancel_request(
        row.id,
        store=ctx.store,
        moderation_store=ctx.moderation_store,
        admission=ctx.admission,
        redis=ctx.queue,
    )
    if done.outcome in ("finished", "decided"):
        raise Problem(409, "Can't cancel", done.message, f"cancel-{done.outcome}")
    found = await visible_clip(ctx, row.id, token)
    clip = await resource(ctx, *found, token)
    outcome = "cancelled" if done.outcome == "cancelled" else "stopping"
    detail = "Cancelled." if outcome == "cancelled" else done.message
    body = {"outcome": outcome, "detail": detail, "clip": clip}
    return web.json_response(body, status=200 if outcome == "cancelled" else 202)


# --- GET /v1/clips ---------------------------------------------------------------------------

operations.add(
    "GET",
    "/v1/clips",
    "Your clips (from Discord and the API), newest first",
    {
        200: Answer("A page", ClipPage),
        400: "A bad owner, limit or cursor",
        401: "No token, or one that is revoked or mistyped",
        403: "The token lacks clips:read, or its member is banned",
    },
    scope="clips:read",
    parameters=[
        query_parameter("owner", "Whose clips: only `me`", type="string", enum=["me"]),
        query_parameter(
            "limit", "Clips per page", type="integer", minimum=1, maximum=MAX_LIMIT, default=24
        ),
        query_parameter("cursor", "The `next` of the previous page (opaque)"),
    ],
    description="Paged by keyset: a clip made while you page never shifts a page. "
    "`lineage.children` is filled only by GET /v1/clips/{id}.",
)


@routes.get("/v1/clips")
async def list_clips(request: web.Request) -> web.Response:
    ctx = context_of(request)
    token = require_scope(request, "clips:read")
    owner = request.query.get("owner", "me")
    if owner != "me":
        raise Problem(
            400,
            "Bad owner",
            "`owner` can only be `me`: a token lists its own member's clips. Public clips "
            "are listed by the gallery's /api/clips.",
            "bad-owner",
        )
    raw = request.query.get("limit", str(PAGE_SIZE))
    if not re.fullmatch(r"[0-9]{1,3}", raw) or not 1 <= int(raw) <= MAX_LIMIT:
        raise Problem(
            400, "Bad limit", f"`limit` is a whole number from 1 to {MAX_LIMIT}.", "bad-limit"
        )
    cursor = request.query.get("cursor") or None
    try:
        page = await asyncio.to_thread(
            ctx.api_clips.list_owned, token.member_id, limit=int(raw), cursor=cursor
        )
    except InvalidCursor:
        raise Problem(
            400,
            "Bad cursor",
            "That cursor is not one this API gave (it may have been cut short). Start again "
            "without it.",
            "bad-cursor",
        ) from None
    clips = [
        clip_resource(row, api_clip, ctx.public_url, api_url=ctx.api_url)
        for row, api_clip in page.clips
    ]
    return web.json_response({"clips": clips, "next": page.next})
