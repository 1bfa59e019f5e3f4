"""`/v1/webhooks` as a client sees it: the secret once, lists without secrets, a token's
endpoints only its own, problems that say what was wrong, and the OpenAPI document."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from pathlib import Path
from typing import get_args

import pytest

from api.webhooks.routes import Event
from cli.local_redis import LocalRedis
from gallery.webhook_store import EVENTS, MAX_ENDPOINTS
from tests.api.conftest import Api
from tests.api.webhooks_harness import webhook_api

pytestmark = [pytest.mark.timeout(60)]

HOOK = "https://hooks.example.com/reelbot"


@pytest.fixture
async def api(redis_server: LocalRedis, redis: object, tmp_path: Path) -> AsyncIterator[Api]:
    data = tmp_path / "data"
    async with webhook_api(
        redis_server.url,
        f"sqlite:///{data / 'reelbot.db'}",
        data,
        api_webhook_allow_http=False,
        api_webhook_allow_private=False,
    ) as opened:
        yield opened


async def test_an_endpoint_is_made_listed_and_deleted_its_secret_shown_once(api: Api) -> None:
    made = await api.call(
        "POST", "/v1/webhooks", json_body={"url": HOOK, "events": ["clip.failed", "clip.queued"]}
    )
    assert made.status == 201 and made.headers["Cache-Control"] == "no-store"
    endpoint = made.body
    assert endpoint["url"] == HOOK and endpoint["events"] == ["clip.queued", "clip.failed"]
    assert endpoint["id"].startswith("we_") and endpoint["disabled_at"] is None
    assert len(base64.b64decode(endpoint["secret"].removeprefix("whsec_"))) == 24

    listed = await api.call("GET", "/v1/webhooks")
    assert listed.status == 200
    [shown] = listed.body["data"]
    assert shown == {k: v for k, v in endpoint.items() if k != "secret"}
    assert endpoint["secret"] not in str(listed.body)

    other = api.issue("discord:2002", scopes=("webhooks:manage",))
    for method, path in (("DELETE", ""), ("POST", "/enable")):
        missing = await api.call(method, f"/v1/webhooks/{endpoint['id']}{path}", token=other)
        assert missing.status == 404 and endpoint["id"] in missing.detail
    assert (await api.call("GET", "/v1/webhooks", token=other)).body == {"data": []}

    gone = await api.call("DELETE", f"/v1/webhooks/{endpoint['id']}")
    assert gone.status == 204
    assert (await api.call("GET", "/v1/webhooks")).body == {"data": []}
    again = await api.call("DELETE", f"/v1/webhooks/{endpoint['id']}")
    assert again.status == 404 and again.content_type == "application/problem+json"


async def test_every_event_by_default_and_an_unknown_one_named(api: Api) -> None:
    made = await api.call("POST", "/v1/webhooks", json_body={"url": HOOK})
    assert made.status == 201 and made.body["events"] == []
    bad = await api.call(
        "POST", "/v1/webhooks", json_body={"url": HOOK, "events": ["clip.succeded"]}
    )
    assert bad.status == 422 and "events.0" in bad.detail and "clip.succeeded" in bad.detail
    extra = await api.call("POST", "/v1/webhooks", json_body={"url": HOOK, "secret": "mine"})
    assert extra.status == 422 and "secret" in extra.detail
    garbled = await api.call("POST", "/v1/webhooks", data=b"{url:", headers={})
    assert garbled.status == 400 and "JSON body" in garbled.detail


async def test_webhooks_need_the_webhooks_manage_scope(api: Api) -> None:
    reader = api.issue(scopes=("clips:read", "clips:write"))
    for method, path in (
        ("POST", "/v1/webhooks"),
        ("GET", "/v1/webhooks"),
        ("DELETE", "/v1/webhooks/we_aaaaaaaaaaaaaaaaaaaa"),
        ("POST", "/v1/webhooks/we_aaaaaaaaaaaaaaaaaaaa/enable"),
    ):
        answer = await api.call(method, path, token=reader, json_body={"url": HOOK})
        assert answer.status == 403 and "webhooks:manage" in answer.detail, (method, path)
    anonymous = await api.call("GET", "/v1/webhooks", token=None)
    assert anonymous.status == 401


async def test_a_token_has_at_most_ten_endpoints(api: Api) -> None:
    for n in range(MAX_ENDPOINTS):
        made = await api.call("POST", "/v1/webhooks", json_body={"url": f"{HOOK}/{n}"})
        assert made.status == 201
    more = await api.call("POST", "/v1/webhooks", json_body={"url": HOOK})
    assert more.status == 422 and "delete one first" in more.detail


async def test_the_openapi_document_describes_the_webhook_routes(api: Api) -> None:
    document = (await api.call("GET", "/api/openapi.json", token=None)).body
    paths = document["paths"]
    assert set(paths["/v1/webhooks"]) == {"get", "post"}
    assert set(paths["/v1/webhooks/{id}"]) == {"delete"}
    assert set(paths["/v1/webhooks/{id}/enable"]) == {"post"}
    created = paths["/v1/webhooks"]["post"]["responses"]["201"]["content"]["application/json"]
    schema = document["components"]["schemas"][created["schema"]["$ref"].rsplit("/", 1)[1]]
    assert "secret" in schema["properties"]
    assert paths["/v1/webhooks"]["get"]["security"] == [{"bearerToken": ["webhooks:manage"]}]


def test_the_routes_know_the_same_events_as_the_store() -> None:
    assert get_args(Event) == EVENTS
