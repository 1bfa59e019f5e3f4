"""POST /v1/clips with a prompt the policy flags: held for a moderator as Discord holds one —
recorded "held", readable by its owner, announced, and handed to the bot's review channel
through `jobs.review_requests` (the bot side is tests/e2e/test_api_held_reviews.py)."""

from __future__ import annotations

import json

from api.webhooks.relay import Relay, events_due
from gallery.models import Moderation
from gallery.webhook_outbox import Outbox
from jobs.keys import REVIEW_REQUESTS_STREAM
from jobs.review_requests import ReviewRequest
from tests.api.conftest import MEMBER, Api


async def _review_requests(api: Api) -> list[ReviewRequest]:
    entries = await api.ctx.queue.xrange(REVIEW_REQUESTS_STREAM)
    return [
        ReviewRequest.from_fields({k.decode(): v.decode() for k, v in fields.items()})
        for _id, fields in entries
    ]


async def test_a_flagged_prompt_is_held_for_a_moderator_and_readable_as_held(api: Api) -> None:
    answer = await api.post_clip({"prompt": "gore beheading"})
    assert answer.status == 202, answer.body
    gid = answer.body["id"]
    assert answer.body["status"] == "held"
    assert answer.body["queue_position"] is None
    assert answer.headers["Location"] == answer.body["links"]["self"]
    assert any("Held for review by a moderator" in note for note in answer.body["notes"])

    read = await api.call("GET", f"/v1/clips/{gid}")
    assert read.status == 200 and read.body["status"] == "held"

    row = api.ctx.store.get(gid)
    assert row is not None and row.owner_id == MEMBER
    assert row.moderation == Moderation.HELD
    assert events_due(row, "") == ["clip.queued", "clip.held"]
    assert await api.ctx.admission.position(gid) is None  # not in the queue

    (review,) = await _review_requests(api)
    assert review.generation_id == gid
    assert review.rule and review.category and review.reason
    assert "beheading" in review.matched or "gore" in review.matched
    assert review.field == "prompt"


async def test_the_clips_webhook_is_told_it_is_held(api: Api) -> None:
    hook = "https://example.com/h"
    answer = await api.post_clip({"prompt": "gore beheading", "webhook_url": hook})
    assert answer.status == 202 and answer.body["status"] == "held"
    gid = answer.body["id"]
    outbox = Outbox(api.ctx.engine)
    Relay(outbox, api.ctx).relay_changed(None)
    sent = outbox.deliveries(gid)
    assert [(row.url, row.event) for row in sent] == [(hook, "clip.queued"), (hook, "clip.held")]
    assert json.loads(sent[-1].payload)["data"]["status"] == "held"


async def test_a_prompt_nobody_flags_is_queued_and_asks_no_moderator(api: Api) -> None:
    answer = await api.post_clip({"prompt": "a fox in the snow"})
    assert answer.status == 202 and answer.body["status"] == "queued"
    assert await _review_requests(api) == []
