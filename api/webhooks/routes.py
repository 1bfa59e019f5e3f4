"""`/v1/webhooks`: a token's endpoints, made (the secret shown once), listed, deleted and turned
back on after a day of failures turned them off. Every route needs `webhooks:manage`."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from api.auth import require_scope
from api.context import context_of
from api.feature import Feature
from api.openapi import Answer, Operations, path_parameter
from api.problems import Problem
from api.webhooks.addresses import AddressPolicy, AddressRefused, check_url
from api.webhooks.deliver import run_webhooks
from gallery.apitables import WebhookEndpoint
from gallery.webhook_store import WebhookStore

__all__ = ["FEATURE", "webhook_routes"]

SCOPE = "webhooks:manage"
ENDPOINT_ID = "we_[a-z0-9]{20}"
Event = Literal[
    "clip.queued", "clip.started", "clip.held", "clip.succeeded", "clip.failed", "clip.cancelled"
]


class WebhookCreate(BaseModel):
    """A new endpoint: where to send, and which events (none named: every event)."""

    model_config = ConfigDict(extra="forbid")

    url: str = Field(description="https URL the events are POSTed to", max_length=2000)
    events: list[Event] = Field(default_factory=list, description="events to send; [] for all")


class WebhookEndpointPublic(BaseModel):
    id: str
    url: str
    events: list[Event] = Field(description="events sent; [] means every event")
    created_at: datetime
    failing_since: datetime | None = Field(description="first failure of the current run")
    disabled_at: datetime | None = Field(description="set when a day of failures turned it off")
    disabled_reason: str


class WebhookEndpointCreated(WebhookEndpointPublic):
    secret: str = Field(description="whsec_…: verifies the signatures; shown this once only")


class WebhookEndpointList(BaseModel):
    data: list[WebhookEndpointPublic]


webhook_routes = web.RouteTableDef()
operations = Operations()
_ID = path_parameter("id", "the endpoint's id", ENDPOINT_ID)
_COMMON: dict[int, Answer | str] = {
    401: "No token, or not a valid one",
    403: "The token lacks webhooks:manage, or its member is banned",
}


def _shown(row: WebhookEndpoint) -> dict[str, Any]:
    return WebhookEndpointPublic(
        id=row.id,
        url=row.url,
        events=row.events.split(),  # type: ignore[arg-type]
        created_at=row.created_at,
        failing_since=row.failing_since,
        disabled_at=row.disabled_at,
        disabled_reason=row.disabled_reason,
    ).model_dump(mode="json")


def _store(request: web.Request) -> WebhookStore:
    return WebhookStore(context_of(request).engine)


def _unknown(endpoint_id: str) -> Problem:
    return Problem(
        404,
        "No such webhook endpoint",
        f"This token has no webhook endpoint `{endpoint_id[:40]}`; GET /v1/webhooks lists them.",
        "no-webhook",
    )


async def _body(request: web.Request) -> WebhookCreate:
    try:
        return WebhookCreate.model_validate(await request.json())
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise Problem(
            400, "Not JSON", 'Send a JSON body: {"url": "https://…", "events": [...]}.', "not-json"
        ) from None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "body"
        raise Problem(
            422, "Invalid webhook", f"`{where}`: {first['msg']}.", "invalid-webhook"
        ) from None


operations.add(
    "POST",
    "/v1/webhooks",
    "Add a webhook endpoint; its signing secret is in this answer only",
    {
        201: Answer("Made", WebhookEndpointCreated),
        422: "The URL is refused (https, no user:password, a public address) or an event unknown",
        **_COMMON,
    },
    scope=SCOPE,
    body=WebhookCreate,
)


@webhook_routes.post("/v1/webhooks")
async def create_webhook(request: web.Request) -> web.Response:
    token = require_scope(request, SCOPE)
    ctx = context_of(request)
    asked = await _body(request)
    policy = AddressPolicy(
        allow_http=ctx.settings.api_webhook_allow_http,
        allow_private=ctx.settings.api_webhook_allow_private,
    )
    try:
        url = check_url(asked.url, policy)
    except AddressRefused as exc:
        raise Problem(422, "Webhook URL refused", str(exc), "webhook-url") from None
    issued = await asyncio.to_thread(
        _store(request).create_endpoint, token.id, str(url), list(asked.events)
    )
    shown = _shown(issued.endpoint) | {"secret": issued.secret}
    return web.json_response(shown, status=201, headers={"Cache-Control": "no-store"})


operations.add(
    "GET",
    "/v1/webhooks",
    "The token's webhook endpoints (no secrets)",
    {200: Answer("Its endpoints", WebhookEndpointList), **_COMMON},
    scope=SCOPE,
)


@webhook_routes.get("/v1/webhooks")
async def list_webhooks(request: web.Request) -> web.Response:
    token = require_scope(request, SCOPE)
    rows = await asyncio.to_thread(_store(request).list_endpoints, token.id)
    return web.json_response({"data": [_shown(row) for row in rows]})


operations.add(
    "DELETE",
    "/v1/webhooks/{id}",
    "Delete an endpoint; its events still waiting are dropped",
    {204: Answer("Deleted"), 404: "The token has no such endpoint", **_COMMON},
    scope=SCOPE,
    parameters=[_ID],
)


@webhook_routes.delete("/v1/webhooks/{id}")
async def delete_webhook(request: web.Request) -> web.Response:
    token = require_scope(request, SCOPE)
    endpoint_id = request.match_info["id"]
    if not await asyncio.to_thread(_store(request).delete_endpoint, endpoint_id, token.id):
        raise _unknown(endpoint_id)
    return web.Response(status=204)


operations.add(
    "POST",
    "/v1/webhooks/{id}/enable",
    "Turn an endpoint back on after a day of failures turned it off",
    {200: Answer("On again", WebhookEndpointPublic), 404: "No such endpoint", **_COMMON},
    scope=SCOPE,
    parameters=[_ID],
)


@webhook_routes.post("/v1/webhooks/{id}/enable")
async def enable_webhook(request: web.Request) -> web.Response:
    token = require_scope(request, SCOPE)
    endpoint_id = request.match_info["id"]
    row = await asyncio.to_thread(_store(request).enable_endpoint, endpoint_id, token.id)
    if row is None:
        raise _unknown(endpoint_id)
    return web.json_response(_shown(row))


FEATURE = Feature(webhook_routes, operations, loops=(run_webhooks,))
