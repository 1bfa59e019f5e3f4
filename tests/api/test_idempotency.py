"""Idempotency-Key: the same key and body give the same clip; another body, or a first request
still running, a 409 that says which; a refused request leaves the key free."""

from __future__ import annotations

from datetime import timedelta

from api.reading import fingerprint
from gallery.models import utcnow
from tests.api.conftest import Api

KEY = {"Idempotency-Key": "order-1234"}


async def test_the_same_key_and_body_give_the_same_clip_once(api_on: Api) -> None:
    api = api_on  # on SQLite and PostgreSQL
    first = await api.post_clip({"prompt": "a fox"}, headers=KEY)
    again = await api.post_clip({"prompt": "a fox"}, headers=KEY)
    assert first.status == again.status == 202
    assert again.body["id"] == first.body["id"]
    assert again.body["links"] == first.body["links"]
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert len(api.ctx.store.list_unfinished()) == 1  # one clip, not two


async def test_the_same_key_with_another_body_is_a_409(api: Api) -> None:
    assert (await api.post_clip({"prompt": "a fox"}, headers=KEY)).status == 202
    answer = await api.post_clip({"prompt": "a cat"}, headers=KEY)
    assert answer.status == 409
    assert answer.body["type"] == "urn:reelbot:problem:idempotency-key-reused"
    assert "different request" in answer.detail
    assert len(api.ctx.store.list_unfinished()) == 1


async def test_a_key_whose_first_request_is_still_running_is_a_409_to_retry(api: Api) -> None:
    token_id = api.token.split("_")[1]
    api.ctx.api_clips.claim_key(token_id, "order-1234", fingerprint({"prompt": "a fox"}, None))
    answer = await api.post_clip({"prompt": "a fox"}, headers=KEY)
    assert answer.status == 409
    assert answer.body["type"] == "urn:reelbot:problem:idempotency-in-progress"
    assert "still being handled" in answer.detail
    assert answer.headers["Retry-After"] == "1"


async def test_keys_belong_to_one_token(api: Api) -> None:
    first = await api.post_clip({"prompt": "a fox"}, headers=KEY)
    other = api.issue("discord:2002")
    second = await api.post_clip({"prompt": "a fox"}, headers=KEY, token=other)
    assert second.status == 202 and second.body["id"] != first.body["id"]


async def test_a_refused_request_leaves_its_key_free_for_a_corrected_retry(api: Api) -> None:
    refused = await api.post_clip({"prompt": "a fox -motion 9"}, headers=KEY)
    assert refused.status == 422
    taken = await api.post_clip({"prompt": "a fox -motion 3"}, headers=KEY)
    assert taken.status == 202


async def test_a_key_older_than_a_day_counts_as_unused(api: Api) -> None:
    token_id = api.token.split("_")[1]
    first = await api.post_clip({"prompt": "a fox"}, headers=KEY)
    stale = api.ctx.api_clips.claim_key(
        token_id, "order-1234", "other body", now=utcnow() + timedelta(hours=25)
    )
    assert stale is None  # the day-old key was forgotten and claimed afresh
    assert first.status == 202


async def test_a_key_that_is_not_printable_ascii_is_refused(api: Api) -> None:
    answer = await api.post_clip({"prompt": "a fox"}, headers={"Idempotency-Key": "a b"})
    assert answer.status == 400 and "Idempotency-Key" in answer.detail
