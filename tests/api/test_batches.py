"""POST /v1/batches and GET /v1/batches/{id} on the real API: every item read and screened up
front, the feeder (the API's own loop) turning items into clips under the member's caps, and
the batch readable only by its member's tokens."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from redis.asyncio import Redis

from cli.local_redis import LocalRedis
from gallery.apitables import ApiBatch
from gallery.models import Generation
from tests.api.conftest import MEMBER, Answer, Api, open_api
from tests.harness.waiting import eventually

pytestmark = pytest.mark.timeout(60)
CAP = 2


@pytest.fixture
async def api(redis_server: LocalRedis, redis: Redis, tmp_path: Path) -> AsyncIterator[Api]:
    """The API on SQLite, members capped at CAP clips in flight."""
    data = tmp_path / "data"
    url = f"sqlite:///{data / 'reelbot.db'}"
    async with open_api(redis_server.url, url, data, max_in_flight=CAP) as opened:
        yield opened


def clips(n: int, **extra: Any) -> list[dict[str, Any]]:
    return [{"prompt": f"a lighthouse at dusk, take {i} -seed {i}", **extra} for i in range(n)]


async def post_batch(api: Api, body: dict[str, Any], **options: Any) -> Answer:
    return await api.call("POST", "/v1/batches", json_body=body, **options)


def count(api: Api, table: type[Any]) -> int:
    with api.ctx.engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


async def test_a_batch_is_taken_at_once_and_its_items_go_in_as_places_free(api: Api) -> None:
    answer = await post_batch(api, {"clips": clips(5)})
    assert answer.status == 202, answer.body
    batch_id = answer.body["id"]
    assert answer.body["size"] == 5
    assert answer.body["links"]["self"] == f"{api.url}/v1/batches/{batch_id}"
    assert answer.headers["Location"] == answer.body["links"]["self"]

    async def fed() -> dict[str, Any] | None:
        got = await api.call("GET", f"/v1/batches/{batch_id}")
        return got.body if got.body["counts"].get("queued") == CAP else None

    batch = await eventually(fed, timeout=15)
    statuses = [item["status"] for item in batch["items"]]
    assert statuses == ["queued"] * CAP + ["waiting"] * (5 - CAP)  # the first ones, in order
    assert [item["index"] for item in batch["items"]] == [0, 1, 2, 3, 4]
    first = batch["items"][0]["clip_id"]
    assert batch["items"][CAP]["clip_id"] is None
    clip = await api.call("GET", f"/v1/clips/{first}")
    assert clip.status == 200
    assert clip.body["batch_id"] == batch_id
    assert clip.body["prompt"] == "a lighthouse at dusk, take 0"
    assert clip.body["seed"] == 0


async def test_a_bad_flag_in_one_item_refuses_the_batch_naming_the_item(api: Api) -> None:
    body = {"clips": [*clips(7), {"prompt": "a fox -motion 9"}, *clips(2)]}
    answer = await post_batch(api, body)
    assert answer.status == 422
    assert answer.content_type == "application/problem+json"
    assert answer.body["item"] == 7
    assert answer.body["token"] == "-motion 9"
    assert answer.detail.startswith("Clip 7 of the batch: `-motion 9` isn't a valid motion")
    assert count(api, ApiBatch) == 0 and count(api, Generation) == 0  # nothing was made


async def test_items_are_refused_in_the_words_of_post_clips(api: Api) -> None:
    unknown = await post_batch(api, {"clips": [{"prompt": "a fox", "colour": "red"}]})
    assert (unknown.status, unknown.body["item"]) == (422, 0)
    assert "`colour` isn't a field of a clip request" in unknown.detail
    hook = await post_batch(api, {"clips": clips(2, webhook_url="http://example.com/hook")})
    assert hook.status == 422 and hook.body["item"] == 0
    assert hook.body["type"].endswith("bad-webhook-url")
    empty = await post_batch(api, {"clips": []})
    assert empty.status == 422 and "1 to 100" in empty.detail
    too_many = await post_batch(api, {"clips": clips(101)})
    assert too_many.status == 422 and "1 to 100" in too_many.detail
    stray = await post_batch(api, {"clips": clips(1), "priority": "high"})
    assert stray.status == 422 and "`priority` isn't a field of a batch" in stray.detail
    assert count(api, ApiBatch) == 0


async def test_the_same_idempotency_key_gives_the_same_batch(api: Api) -> None:
    key = {"Idempotency-Key": "nightly-2026-12-06"}
    first = await post_batch(api, {"clips": clips(3)}, headers=key)
    again = await post_batch(api, {"clips": clips(3)}, headers=key)
    assert (first.status, again.status) == (202, 202)
    assert again.body["id"] == first.body["id"]
    assert again.headers["Idempotent-Replayed"] == "true"
    other = await post_batch(api, {"clips": clips(4)}, headers=key)
    assert other.status == 409
    assert count(api, ApiBatch) == 1


async def test_only_the_members_tokens_read_a_batch(api: Api) -> None:
    answer = await post_batch(api, {"clips": clips(1)})
    path = f"/v1/batches/{answer.body['id']}"
    mine = await api.call("GET", path, token=api.issue(MEMBER, scopes=("clips:read",)))
    assert mine.status == 200
    assert mine.body["size"] == 1
    theirs = await api.call("GET", path, token=api.issue("discord:2002"))
    assert theirs.status == 404
    assert (await api.call("GET", "/v1/batches/nope")).status == 404
    reader = api.issue(scopes=("clips:read",))
    refused = await post_batch(api, {"clips": clips(1)}, token=reader)
    assert refused.status == 403 and "clips:write" in refused.detail
