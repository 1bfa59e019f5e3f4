"""Webhooks delivered by a real API to real receivers: each event of a clip, signed, in order,
once; retried through failures, timeouts and a receiver that is down for a while; never sent
through a redirect. Clips move through their states as a worker moves them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from api.webhooks.signing import verify
from cli.local_redis import LocalRedis
from core.spec import CANCELLED
from gallery.models import Moderation
from gallery.webhook_outbox import Outbox
from tests.api.conftest import Api
from tests.api.webhooks_harness import (
    FAST,
    Receiver,
    add_api_clip,
    receiver,
    render,
    token_of,
    webhook_api,
)
from tests.harness.waiting import eventually

pytestmark = [pytest.mark.timeout(60)]


@pytest.fixture(params=["sqlite", "postgresql"])
async def api(
    request: pytest.FixtureRequest, redis_server: LocalRedis, redis: object, tmp_path: Path
) -> AsyncIterator[Api]:
    data = tmp_path / "data"
    url = f"sqlite:///{data / 'reelbot.db'}"
    if request.param == "postgresql":
        url = request.getfixturevalue("pg_database_url")
    async with webhook_api(redis_server.url, url, data) as opened:
        yield opened


def outbox(api: Api) -> Outbox:
    return Outbox(api.ctx.engine)


async def test_a_clips_events_arrive_signed_in_order_at_each_target(api: Api) -> None:
    _, token_secret = token_of(api)
    async with receiver(secret=token_secret) as own, receiver() as site:
        made = await api.call(
            "POST", "/v1/webhooks", json_body={"url": site.url, "events": ["clip.succeeded"]}
        )
        assert made.status == 201, made.body
        site.secret = made.body["secret"]

        gid = add_api_clip(api, webhook_url=own.url)
        await eventually(lambda: own.types(gid), lambda t: t == ["clip.queued"])
        render(api, gid)
        await eventually(lambda: own.types(gid), lambda t: len(t) == 3)
        await eventually(lambda: site.got, lambda got: len(got) == 1)

        assert own.types(gid) == ["clip.queued", "clip.started", "clip.succeeded"]
        assert all(d.verified for d in own.got + site.got)
        assert len({d.id for d in own.got + site.got}) == 4  # a webhook-id per event and URL
        final = own.got[-1].event
        assert final["data"]["id"] == gid and final["data"]["status"] == "succeeded"
        assert final["data"]["result"]["video_url"].startswith("http://gallery.test/")
        assert site.got[0].body == own.got[-1].body  # one body for the event, whoever gets it
        assert site.got[0].headers["content-type"] == "application/json"
        verify(site.secret, site.got[0].headers, site.got[0].body)  # our verify agrees
        await eventually(
            lambda: [r.delivered_at is not None for r in outbox(api).deliveries(gid)],
            lambda done: done == [True] * 4,
        )


async def test_held_cancelled_and_failed_clips_end_with_their_own_event(api: Api) -> None:
    async with receiver() as own:
        held, cancelled, failed = (add_api_clip(api, webhook_url=own.url) for _ in range(3))
        render(api, held, moderation=Moderation.HELD)
        api.ctx.store.mark_failed(cancelled, error=CANCELLED)
        api.ctx.store.mark_rendering(failed, worker="w", attempt=1)
        api.ctx.store.mark_failed(failed, error="the worker ran out of memory")
        await eventually(lambda: own.types(held), lambda t: t[-1:] == ["clip.held"])
        api.ctx.store.set_moderation(held, Moderation.OK)  # a moderator lets it out
        await eventually(lambda: own.types(held), lambda t: t[-1:] == ["clip.succeeded"])
        await eventually(lambda: own.types(failed), lambda t: t[-1:] == ["clip.failed"])
        await eventually(lambda: own.types(cancelled), lambda t: t[-1:] == ["clip.cancelled"])

        assert own.types(held) == ["clip.queued", "clip.started", "clip.held", "clip.succeeded"]
        assert own.types(cancelled) == ["clip.queued", "clip.cancelled"]  # it never started
        assert own.types(failed) == ["clip.queued", "clip.started", "clip.failed"]
        [fail] = [d.event for d in own.got if d.type == "clip.failed"]
        assert fail["data"]["error"] == "the worker ran out of memory"


async def test_a_receiver_that_fails_times_out_then_answers_gets_the_same_delivery(
    api: Api,
) -> None:
    async with receiver(answers=[500, "hang", 503]) as own:
        gid = add_api_clip(api, webhook_url=own.url)
        await eventually(lambda: own.got, lambda got: len(got) == 4)
        render(api, gid)
        await eventually(lambda: own.types(gid), lambda t: len(t) == 6)

        first_four = own.got[:4]
        assert {d.id for d in first_four} == {first_four[0].id}  # one event, four attempts
        assert {d.body for d in first_four} == {first_four[0].body}  # byte for byte
        assert len({d.headers["webhook-timestamp"] for d in own.got}) >= 1
        assert own.types(gid) == ["clip.queued"] * 4 + ["clip.started", "clip.succeeded"]
        rows = outbox(api).deliveries(gid)
        assert [(r.event, r.attempts) for r in rows] == [
            ("clip.queued", 4),
            ("clip.started", 1),
            ("clip.succeeded", 1),
        ]


async def test_a_receiver_down_for_a_while_gets_every_event_once_back_in_order(
    api: Api,
) -> None:
    own = await Receiver().start()
    port = own.port
    await own.stop()  # down: connections refused
    clips = [add_api_clip(api, webhook_url=f"http://127.0.0.1:{port}/hook") for _ in range(3)]
    for gid in clips:
        render(api, gid)
    await eventually(
        lambda: [r.attempts for gid in clips for r in outbox(api).deliveries(gid)],
        lambda tries: tries and max(tries) >= 3,  # the first of each clip retried meanwhile
    )

    back = await Receiver(port=port).start()
    try:
        await eventually(lambda: back.got, lambda got: len(got) == 9)
        for gid in clips:
            assert back.types(gid) == ["clip.queued", "clip.started", "clip.succeeded"]
        assert len({d.id for d in back.got}) == 9  # none twice
        firsts = [outbox(api).deliveries(gid)[0] for gid in clips]
        assert all(r.attempts > 1 and r.delivered_at is not None for r in firsts)
    finally:
        await back.stop()


async def test_redirects_are_not_followed(api: Api) -> None:
    async with receiver() as elsewhere, receiver() as own:
        own.default = ("redirect", elsewhere.url)
        gid = add_api_clip(api, webhook_url=own.url)
        await eventually(lambda: own.got, lambda got: len(got) >= 2)
        assert elsewhere.got == []
        [row] = outbox(api).deliveries(gid)
        assert row.delivered_at is None
        assert "redirects are not followed" in (row.last_error or "")


def test_fast_timings_are_what_the_tests_assume() -> None:
    assert FAST.lease.total_seconds() > FAST.timeout_s  # a live attempt keeps its lease


async def test_nothing_more_is_sent_for_a_revoked_token(api: Api) -> None:
    async with receiver() as own:
        gid = add_api_clip(api, webhook_url=own.url)
        await eventually(lambda: own.types(gid), lambda t: t == ["clip.queued"])
        token_id, _ = token_of(api)
        api.ctx.tokens.revoke(token_id, by="discord:1001")
        render(api, gid)
        rows = await eventually(
            lambda: outbox(api).deliveries(gid),
            lambda rows: len(rows) == 3 and all(r.given_up_at for r in rows[1:]),
        )
        assert {r.last_error for r in rows[1:]} == {"the token was revoked"}
        assert own.types(gid) == ["clip.queued"]


async def test_a_clip_asked_through_the_api_reports_to_its_webhook_url(api: Api) -> None:
    _, token_secret = token_of(api)
    async with receiver(secret=token_secret) as own:
        asked = await api.post_clip({"prompt": "a fox in the snow", "webhook_url": own.url})
        assert asked.status == 202, asked.body
        gid = asked.body["id"]
        [queued] = await eventually(lambda: own.got, lambda got: len(got) == 1)
        assert queued.verified and queued.type == "clip.queued"
        shown = await api.call("GET", f"/v1/clips/{gid}")
        assert queued.event["data"]["id"] == gid
        assert queued.event["data"]["prompt"] == shown.body["prompt"] == "a fox in the snow"
        assert queued.event["data"]["links"] == shown.body["links"]
