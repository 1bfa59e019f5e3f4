"""`/v1/batches`: up to 100 clips asked in one call, each admitted in turn under its member's
caps by the feeder (`api.batch_feeder`), never ahead of other members.

Every item is read and screened before anything is written, with the reader and the words of
`POST /v1/clips` (`api.asking`): one bad flag in one item refuses the whole batch with a 422
that names the item (`item`, counted from 0) and the token, and nothing is made. An accepted
batch answers 202 at once; its items wait for places and become clips as `GET /v1/batches/{id}`
shows. An `Idempotency-Key` works as on `POST /v1/clips`: the same key and body give the same
batch, another body a 409.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from api.asking import NEEDS_REVIEW, ApiAsker, checked_webhook, draft_spec
from api.auth import require_scope
from api.batch_feeder import run_feeder
from api.clips import IDEMPOTENCY_KEY
from api.clipstate import ClipStatus, clip_status
from api.context import ApiContext, context_of
from api.feature import Feature
from api.openapi import Answer, Operations, header_parameter, path_parameter
from api.problems import Problem, from_user_error
from api.reading import Asked, bad_body, clip_request, fingerprint, read_at_most
from api.schemas import ClipRequest
from core.errors import UserFacingError
from gallery.api_batches import MAX_ITEMS, BatchStore, BatchView, new_batch_id
from gallery.apitables import ApiToken
from intake.screening import screen, when_utc

routes = web.RouteTableDef()
operations = Operations()
FEATURE = Feature(routes, operations, loops=(run_feeder,))

BATCH_MAX_BYTES = 1024 * 1024  # 100 clips with long prompts fit
BATCH_ID = "[0-9a-f]{32}"
ItemStatus = Literal["waiting", "refused"] | ClipStatus


class BatchRequest(BaseModel):
    """Up to 100 clips, each with the fields of POST /v1/clips (JSON; no files)."""

    model_config = ConfigDict(extra="forbid", title="BatchRequest")

    clips: list[ClipRequest] = Field(min_length=1, max_length=MAX_ITEMS)
    webhook_url: str | None = Field(
        default=None,
        max_length=2000,
        description="https URL that gets every clip's events (an item's own webhook_url wins)",
    )


class BatchLinks(BaseModel):
    self: str = Field(description="GET: the batch and its items")


class BatchAccepted(BaseModel):
    """A batch taken: its items wait for their member's places, in order."""

    id: str
    size: int
    links: BatchLinks


class BatchItem(BaseModel):
    index: int = Field(description="Its place in the request's `clips`, from 0")
    status: ItemStatus = Field(
        description="waiting (for a place under your caps), refused, or its clip's status"
    )
    clip_id: str | None = Field(description="The clip it became (GET /v1/clips/{id})")
    error: str | None = Field(description="Why it was refused, for people")


class Batch(BaseModel):
    id: str
    size: int
    created_at: str
    counts: dict[str, int] = Field(description="Items per status")
    items: list[BatchItem]
    links: BatchLinks


def _link(ctx: ApiContext, batch_id: str) -> BatchLinks:
    return BatchLinks(self=f"{ctx.api_url.rstrip('/')}/v1/batches/{batch_id}")


def _item_problem(index: int, problem: Problem) -> Problem:
    """The refusal of one item, as the refusal of the batch that names it."""
    return Problem(
        problem.status,
        problem.title,
        f"Clip {index} of the batch: {problem.detail}",
        problem.type_suffix,
        headers=problem.headers,
        **{**problem.extra, "item": index},
    )


async def _read_body(request: web.Request) -> tuple[dict[str, Any], str]:
    """The body as a JSON object, and its fingerprint for the Idempotency-Key."""
    if request.content_type not in ("application/json", "") and not request.content_type.endswith(
        "+json"
    ):
        raise Problem(
            415,
            "Unsupported media type",
            f"Send a batch as application/json, not {request.content_type}.",
            "unsupported-media-type",
        )
    raw = await read_at_most(request, BATCH_MAX_BYTES)
    if raw is None:
        raise Problem(
            413,
            "Request body too large",
            f"A batch can be at most {BATCH_MAX_BYTES // 1024} KB of JSON.",
            "body-too-large",
        )
    try:
        data = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise bad_body(
            'The body is not valid JSON; send {"clips": [{"prompt": "a fox"}]}.'
        ) from None
    if not isinstance(data, dict):
        raise bad_body('The body must be a JSON object like {"clips": [{"prompt": "a fox"}]}.')
    return data, fingerprint(data, None)


def _clips_of(data: dict[str, Any]) -> tuple[list[Any], str | None]:
    unknown = sorted(set(data) - {"clips", "webhook_url"})
    if unknown:
        raise Problem(
            422,
            "Invalid request",
            f"`{unknown[0][:40]}` isn't a field of a batch. Allowed: clips, webhook_url.",
            "invalid-request",
        )
    clips, webhook_url = data.get("clips"), data.get("webhook_url")
    if not isinstance(clips, list) or not 1 <= len(clips) <= MAX_ITEMS:
        raise Problem(
            422,
            "Invalid request",
            f"`clips` is a list of 1 to {MAX_ITEMS} clip requests, each with the fields of "
            'POST /v1/clips, like {"clips": [{"prompt": "a fox -motion 3"}]}.',
            "invalid-request",
        )
    if webhook_url is not None and not isinstance(webhook_url, str):
        raise Problem(422, "Invalid request", "`webhook_url` is a URL text.", "invalid-request")
    return clips, webhook_url


async def read_items(ctx: ApiContext, token: ApiToken, clips: list[Any]) -> list[dict[str, Any]]:
    """Each item read and screened as POST /v1/clips reads and screens a clip (its place under
    the caps comes later); the first refusal names its item."""
    items = []
    for index, fields in enumerate(clips):
        try:
            if not isinstance(fields, dict):
                raise Problem(
                    422, "Invalid request", "Each clip is a JSON object.", "invalid-request"
                )
            req = clip_request(fields)
            webhook_url = checked_webhook(ctx, req.webhook_url)
            spec = (await draft_spec(ctx, token, Asked(req, None, ""))).spec
            decision = await screen(
                spec,
                ApiAsker.of(token),
                bans=ctx.bans,
                policy=ctx.prompt_policy,
                toxicity=ctx.toxicity_check,
                until=when_utc,
            )
            if decision.decision == "flag":
                raise Problem(422, "Needs a moderator's review", NEEDS_REVIEW, "needs-review")
        except Problem as exc:
            raise _item_problem(index, exc) from None
        except UserFacingError as exc:
            raise _item_problem(index, from_user_error(exc)) from None
        items.append({"spec": spec.model_dump(mode="json"), "webhook_url": webhook_url})
    return items


def _accepted(ctx: ApiContext, batch_id: str, size: int, *, replayed: bool) -> web.Response:
    body = BatchAccepted(id=batch_id, size=size, links=_link(ctx, batch_id))
    headers = {"Location": body.links.self}
    if replayed:
        headers["Idempotent-Replayed"] = "true"
    return web.json_response(body.model_dump(mode="json"), status=202, headers=headers)


# --- POST /v1/batches ------------------------------------------------------------------------

operations.add(
    "POST",
    "/v1/batches",
    "Ask for up to 100 clips at once",
    {
        202: Answer("Taken: the items wait for places", BatchAccepted, {"Location": "Its URL"}),
        400: "A body that can't be read, or a bad Idempotency-Key",
        401: "No token, or one that is revoked or mistyped",
        403: "The token lacks clips:write, or its member is banned",
        409: "The Idempotency-Key was used with another body, or its request is still running",
        413: "The body is too large",
        415: "Not JSON",
        422: "An item refused (`item` names it, from 0, in the words Discord uses); nothing "
        "was made",
        429: Answer("Over the token's rate limit", headers={"Retry-After": "Seconds to wait"}),
    },
    scope="clips:write",
    body=BatchRequest,
    parameters=[
        header_parameter(
            "Idempotency-Key", "The same key and body give the same batch for 24 hours"
        )
    ],
    description="Every item is read and screened first. Then the items go into the queue in "
    "order, as many at a time as your caps leave places for (a batch waits while you are at "
    "your clips-in-flight cap, and never goes ahead of other members); an item over the daily "
    "cap is refused. Follow them with GET /v1/batches/{id}, webhooks, or each clip's events.",
)


@routes.post("/v1/batches")
async def post_batch(request: web.Request) -> web.Response:
    ctx = context_of(request)
    token = require_scope(request, "clips:write")
    await ctx.rate_limit.hit(token.id)
    key = request.headers.get("Idempotency-Key")
    if key is not None and not IDEMPOTENCY_KEY.fullmatch(key):
        raise Problem(
            400,
            "Bad Idempotency-Key",
            "An Idempotency-Key is 1 to 255 printable ASCII characters, no spaces.",
            "bad-idempotency-key",
        )
    data, body_hash = await _read_body(request)
    clips, webhook_url = _clips_of(data)
    if key is not None:
        earlier = await asyncio.to_thread(ctx.api_clips.claim_key, token.id, key, body_hash)
        if earlier is not None:
            return await _replay(ctx, token, earlier.body_hash, earlier.resource, body_hash)
    batches = BatchStore(ctx.engine)
    try:
        checked_url = checked_webhook(ctx, webhook_url)
        items = await read_items(ctx, token, clips)
        batch = await asyncio.to_thread(
            batches.create, token.id, items, webhook_url=checked_url, batch_id=new_batch_id()
        )
    except BaseException:
        if key is not None:
            await asyncio.shield(asyncio.to_thread(ctx.api_clips.drop_key, token.id, key))
        raise
    if key is not None:
        await asyncio.to_thread(ctx.api_clips.finish_key, token.id, key, f"batch:{batch.id}")
    return _accepted(ctx, batch.id, batch.size, replayed=False)


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
    if not made.startswith("batch:"):
        raise Problem(
            409,
            "Request in progress",
            "A request with this Idempotency-Key is still being handled (or made a clip, not "
            "a batch); ask again in a moment, or use a new key.",
            "idempotency-in-progress",
            headers={"Retry-After": "1"},
        )
    view = await _owned_batch(ctx, made.removeprefix("batch:"), token)
    return _accepted(ctx, view.batch.id, view.batch.size, replayed=True)


# --- GET /v1/batches/{id} --------------------------------------------------------------------

operations.add(
    "GET",
    "/v1/batches/{id}",
    "A batch: each item's status and the clip it became",
    {
        200: Answer("The batch", Batch),
        401: "No token, or one that is revoked or mistyped",
        403: "The token lacks clips:read, or its member is banned",
        404: "No batch of this token's member",
    },
    scope="clips:read",
    parameters=[path_parameter("id", "The batch's id", BATCH_ID)],
)


async def _owned_batch(ctx: ApiContext, batch_id: str, token: ApiToken) -> BatchView:
    """The batch if one of the member's tokens asked for it; a 404 otherwise."""
    view = await asyncio.to_thread(BatchStore(ctx.engine).get, batch_id[:64])
    asker = None
    if view is not None:
        asker = await asyncio.to_thread(ctx.tokens.get, view.batch.token_id)
    if view is None or asker is None or asker.member_id != token.member_id:
        raise Problem(
            404,
            "No such batch",
            "There is no batch here that this token's member asked for. Check the id.",
            "not-found",
        )
    return view


def batch_json(ctx: ApiContext, view: BatchView) -> dict[str, Any]:
    items = []
    for item in view.items:
        status: str = "refused" if item.state == "refused" else "waiting"
        if item.state == "submitted" and item.generation_id:
            row = view.generations.get(item.generation_id)
            status = clip_status(row) if row is not None else "queued"
        items.append(
            BatchItem(
                index=item.position,
                status=status,  # type: ignore[arg-type]
                clip_id=item.generation_id if item.state == "submitted" else None,
                error=item.error if item.state == "refused" else None,
            )
        )
    counts: dict[str, int] = {}
    for shown in items:
        counts[shown.status] = counts.get(shown.status, 0) + 1
    body = Batch(
        id=view.batch.id,
        size=view.batch.size,
        created_at=view.batch.created_at.isoformat(),
        counts=counts,
        items=items,
        links=_link(ctx, view.batch.id),
    )
    return body.model_dump(mode="json")


@routes.get("/v1/batches/{id}")
async def get_batch(request: web.Request) -> web.Response:
    ctx = context_of(request)
    token = require_scope(request, "clips:read")
    view = await _owned_batch(ctx, request.match_info["id"], token)
    return web.json_response(batch_json(ctx, view))
