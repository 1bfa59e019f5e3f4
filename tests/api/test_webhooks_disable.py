"""An endpoint that fails for "a day" (a second here) is turned off, what waited for it is
dropped, and its owner gets one DM from the bot (fake Discord, unmodified discord.py bot) saying
so and how to turn it back on; turned back on, it gets new events again."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from cli.local_redis import LocalRedis
from gallery.webhook_outbox import Outbox, Retry
from gallery.webhook_store import WebhookStore
from tests.api.webhooks_harness import FAST, add_api_clip, receiver, render, webhook_api
from tests.fakediscord import FakeDiscord, Message
from tests.harness.members import user_id
from tests.harness.waiting import eventually

pytestmark = [pytest.mark.timeout(90)]

A_DAY = replace(FAST, retry=Retry(first_s=0.05, cap_s=0.2, disable_after=timedelta(seconds=1)))


def dms_to(fake: FakeDiscord, name: str) -> list[Message]:
    channel = fake.world.dm_channels.get(fake.users[name].id)
    return [] if channel is None else [m for m in fake.messages if m.channel_id == channel.id]


async def test_an_endpoint_failing_for_a_day_is_turned_off_and_its_owner_told_once(
    stack, redis_server: LocalRedis, redis: object, tmp_path: Path
) -> None:
    data = tmp_path / "api"
    database = f"sqlite:///{data / 'reelbot.db'}"
    async with (
        FakeDiscord() as fake,
        fake.running(await stack.new_bot()),
        webhook_api(redis_server.url, database, data, config=A_DAY) as api,
        receiver(default=500) as down,
    ):
        bob = api.issue(user_id(fake, "bob"), scopes=("webhooks:manage",))
        made = await api.call("POST", "/v1/webhooks", token=bob, json_body={"url": down.url})
        endpoint_id = made.body["id"]
        endpoints = WebhookStore(api.ctx.engine)
        gid = add_api_clip(api, token=bob)

        [dm] = await eventually(lambda: dms_to(fake, "bob"), lambda dms: len(dms) == 1, 30)
        assert "has failed every delivery for a day" in dm.content
        assert f"POST /v1/webhooks/{endpoint_id}/enable" in dm.content
        assert down.url.split("/hook")[0] in dm.content
        tried = len(down.got)
        assert tried >= 2  # retried meanwhile

        off = endpoints.get_endpoint(endpoint_id, api.ctx.tokens.verify(bob).id)
        assert off.disabled_at is not None and "HTTP 500" in off.disabled_reason
        listed = await api.call("GET", "/v1/webhooks", token=bob)
        assert listed.body["data"][0]["disabled_at"] is not None
        [row] = Outbox(api.ctx.engine).deliveries(gid)
        assert row.given_up_at is not None

        render(api, gid)  # later events of the clip: not sent to an endpoint that is off
        await eventually(
            lambda: endpoints.get_endpoint(endpoint_id, off.token_id),
            lambda e: e.disabled_at is not None,
        )
        await eventually(
            lambda: api.ctx.api_clips.get(gid), lambda c: c.last_event == "clip.succeeded"
        )
        assert len(down.got) == tried

        down.default = 200  # fixed; turned back on, it gets the next clip's events
        on = await api.call("POST", f"/v1/webhooks/{endpoint_id}/enable", token=bob)
        assert on.status == 200 and on.body["disabled_at"] is None
        second = add_api_clip(api, token=bob)
        await eventually(lambda: down.types(second), lambda t: t == ["clip.queued"])
        assert len(dms_to(fake, "bob")) == 1  # told once
