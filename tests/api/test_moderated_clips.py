"""A clip the moderators act on reads the same through GET, the events stream and webhooks: one
they removed has failed (never "succeeded", no files linked), one hidden by reports or a
moderator is held until they decide."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from api.clipstate import REMOVED
from api.schemas import Clip
from cli.local_redis import LocalRedis
from gallery.models import Moderation
from tests.api.conftest import Api
from tests.api.test_events import finish, make_clip, open_stream
from tests.api.webhooks_harness import add_api_clip, receiver, render, webhook_api
from tests.harness.waiting import eventually

pytestmark = pytest.mark.timeout(60)


async def read(api: Api, gid: str) -> Clip:
    answer = await api.call("GET", f"/v1/clips/{gid}")
    assert answer.status == 200, answer.body
    return Clip.model_validate(answer.body)


async def test_a_removed_clip_has_failed_saying_a_moderator_removed_it(api: Api) -> None:
    gid = make_clip(api)
    finish(api, gid)
    assert (await read(api, gid)).status == "succeeded"
    api.ctx.store.set_moderation(gid, Moderation.REMOVED)
    clip = await read(api, gid)
    assert (clip.status, clip.error, clip.result) == ("failed", REMOVED, None)
    async with open_stream(api, gid) as reader:
        final = await reader.next()
        assert final is not None
        assert (final.event, final.data["status"], final.data["error"]) == (
            "failed",
            "failed",
            REMOVED,
        )
        assert final.data["result"] is None
    files = await api.call("GET", f"/v1/clips/{gid}/media")
    assert files.status == 404 and files.detail == "This clip has no files to fetch: it failed."


async def test_a_clip_hidden_by_a_moderator_is_held_without_files(api: Api) -> None:
    gid = make_clip(api)
    finish(api, gid)
    api.ctx.store.set_moderation(gid, Moderation.HIDDEN)
    clip = await read(api, gid)  # its owner still reads it
    assert (clip.status, clip.result, clip.error) == ("held", None, None)
    async with open_stream(api, gid) as reader:
        final = await reader.next()
        assert final is not None and final.event == "held"
    api.ctx.store.set_moderation(gid, Moderation.OK)  # restored
    assert (await read(api, gid)).status == "succeeded"


@pytest.fixture
async def hooked(redis_server: LocalRedis, redis: object, tmp_path: Path) -> AsyncIterator[Api]:
    data = tmp_path / "data"
    async with webhook_api(redis_server.url, f"sqlite:///{data / 'reelbot.db'}", data) as opened:
        yield opened


async def test_a_held_clip_a_moderator_removes_ends_with_clip_failed(hooked: Api) -> None:
    api = hooked
    async with receiver() as own:
        gid = add_api_clip(api, webhook_url=own.url)
        render(api, gid, moderation=Moderation.HELD)
        await eventually(lambda: own.types(gid), lambda t: t[-1:] == ["clip.held"])
        api.ctx.store.set_moderation(gid, Moderation.REMOVED)  # the moderator rejects it
        await eventually(lambda: own.types(gid), lambda t: t[-1:] == ["clip.failed"])
        assert own.types(gid) == ["clip.queued", "clip.started", "clip.held", "clip.failed"]
        data = own.got[-1].event["data"]
        assert (data["status"], data["error"], data["result"]) == ("failed", REMOVED, None)
