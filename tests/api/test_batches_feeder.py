"""The batch feeder on the real Redis scheduler and a real database: a batch larger than its
member's cap goes in a few clips at a time, in order, while another member's clip gets its
fair turn; an API process that stops mid-batch is followed by another without duplicates.

No worker renders: a fake one beats (so the scheduler admits jobs to arq, as it would for one
worker) and finishes jobs the way a worker announces them (`publish_result_once`)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis
from sqlmodel import Session, select

from api import batch_feeder
from api.batch_feeder import REVOKED, BatchFeeder
from api.context import ApiContext
from cli.local_redis import LocalRedis
from core.fairshare import queue_of
from core.flags import parse_request
from core.spec import ResultRecord
from gallery.api_batches import BatchStore, BatchView, item_generation_id
from gallery.models import Generation, GenerationStatus
from jobs.keys import flight_key, heartbeat_key
from jobs.results import publish_result_once
from tests.api.conftest import Api, open_api
from tests.harness.waiting import eventually

pytestmark = pytest.mark.timeout(90)
CAP = 2
DEFAULT_QUEUE = queue_of("fast", "tiny")  # where a tiny worker reads fast jobs


@pytest.fixture(autouse=True)
def manual_feeding(monkeypatch: pytest.MonkeyPatch) -> None:
    """The API's own feeder loop steps once at start-up and then sleeps: the tests step theirs
    by hand, so what each step does is theirs to see."""
    monkeypatch.setattr(batch_feeder, "POLL_S", 3600.0)


@contextlib.asynccontextmanager
async def capped_api(redis_server: LocalRedis, data: Path, **settings: Any) -> AsyncIterator[Api]:
    """The API with members capped at CAP clips in flight, on SQLite in `data`."""
    url = f"sqlite:///{data / 'reelbot.db'}"
    options = {"max_in_flight": CAP, **settings}
    async with open_api(redis_server.url, url, data, **options) as api:
        yield api


@pytest.fixture
async def api(redis_server: LocalRedis, redis: Redis, tmp_path: Path) -> AsyncIterator[Api]:
    async with capped_api(redis_server, tmp_path / "data") as opened:
        yield opened


def token_id(plaintext: str) -> str:
    return plaintext.split("_")[1]


def spec_json(ctx: ApiContext, member: str, line: str) -> dict[str, Any]:
    spec = parse_request(line, capabilities=ctx.model_capabilities, owner_id=member)
    return spec.model_dump(mode="json")


def make_batch(api: Api, plaintext: str, member: str, n: int, tag: str = "") -> str:
    """A batch of n clips as POST /v1/batches writes one (each request read up front)."""
    requests = [{"spec": spec_json(api.ctx, member, f"{tag}clip {i} -seed {i}")} for i in range(n)]
    return BatchStore(api.ctx.engine).create(token_id(plaintext), requests).id


class FakeWorker:
    """One worker's heartbeat, and jobs taken from arq's queue and finished as a worker does."""

    def __init__(self, ctx: ApiContext) -> None:
        self.ctx = ctx
        self.taken: list[str] = []

    async def beat(self) -> None:
        state = {"job": None, "at": 0, "started": 0, "queue": DEFAULT_QUEUE}
        await self.ctx.queue.set(heartbeat_key("w-0"), json.dumps(state), px=600_000)

    async def render_next(self) -> str | None:
        """Finish the job at the head of arq's queue; None if there is none yet."""
        self.ctx.admission.kick()
        popped = await self.ctx.queue.zpopmin(DEFAULT_QUEUE)
        if not popped:
            return None
        gid = popped[0][0].decode()
        self.ctx.store.mark_rendering(gid, worker="w-0", attempt=1)
        self.ctx.store.mark_done(gid, media_path=f"{gid}.mp4", size_bytes=1, timings={})
        await publish_result_once(self.ctx.queue, ResultRecord(generation_id=gid, status="done"))
        self.ctx.admission.kick()
        self.taken.append(gid)
        return gid


async def in_flight(ctx: ApiContext, member: str) -> int:
    return int(await ctx.queue.scard(flight_key(member)))


def asked_in_order(ctx: ApiContext, member: str) -> list[str]:
    """The member's clips in the order they were submitted (their rows' creation)."""
    with Session(ctx.engine) as session:
        rows = session.exec(select(Generation).where(Generation.owner_id == member)).all()
    return [r.id for r in sorted(rows, key=lambda r: r.created_at)]


def owners(ctx: ApiContext, gids: list[str]) -> list[str]:
    rows = [ctx.store.get(g) for g in gids]
    return [r.owner_id if r else "?" for r in rows]


async def test_a_batch_over_the_cap_goes_in_a_few_at_a_time_and_another_member_gets_a_turn(
    api: Api,
) -> None:
    worker = FakeWorker(api.ctx)
    await worker.beat()
    alice, bob = "discord:1", "discord:2"
    batch = make_batch(api, api.issue(alice), alice, 6)
    feeder = BatchFeeder(api.ctx)
    assert await feeder.step() == CAP  # two places: two clips, the rest wait
    assert await feeder.step() == 0
    assert await in_flight(api.ctx, alice) == CAP
    bob_spec = parse_request("bob's one clip", capabilities=api.ctx.model_capabilities)
    bob_clip = await api.ctx.submitter.submit(bob_spec.model_copy(update={"owner_id": bob}))

    while len(worker.taken) < 7:
        await eventually(worker.render_next, timeout=10)
        await feeder.step()
        assert await in_flight(api.ctx, alice) <= CAP  # never more than a member asking alone

    order = owners(api.ctx, worker.taken)
    assert order.count(alice) == 6
    # Bob asked after Alice's first two were in: his clip is next but one at the latest,
    # never behind the rest of her batch.
    assert worker.taken.index(bob_clip.generation_id) <= 3, order
    # In order: jobs admitted to arq in one step share a score, so a worker may start two
    # of them either way round, but each went into the member's queue after the one before.
    assert asked_in_order(api.ctx, alice) == [item_generation_id(batch, i) for i in range(6)]
    view = BatchStore(api.ctx.engine).get(batch)
    assert view is not None
    assert [i.state for i in view.items] == ["submitted"] * 6


async def test_an_item_over_the_daily_cap_is_refused_in_discords_words(
    redis_server: LocalRedis, redis: Redis, tmp_path: Path
) -> None:
    async with capped_api(redis_server, tmp_path / "data", max_per_day=3) as api:
        batch = make_batch(api, api.issue("discord:1"), "discord:1", 4)
        worker = FakeWorker(api.ctx)
        await worker.beat()
        feeder = BatchFeeder(api.ctx)

        async def settled() -> BatchView | None:
            await feeder.step()
            await worker.render_next()
            view = BatchStore(api.ctx.engine).get(batch)
            return view if view and all(i.state != "waiting" for i in view.items) else None

        view = await eventually(settled, timeout=20)
        assert [i.state for i in view.items] == ["submitted"] * 3 + ["refused"]
        assert view.items[3].error is not None
        assert view.items[3].error.startswith("You've made 3 clips today — the limit resets")


async def test_a_revoked_token_or_a_ban_stops_what_is_still_waiting(api: Api) -> None:
    plaintext = api.issue("discord:1")
    batch = make_batch(api, plaintext, "discord:1", CAP + 1)
    feeder = BatchFeeder(api.ctx)
    await feeder.step()
    api.ctx.tokens.revoke(token_id(plaintext), by="discord:1")
    worker = FakeWorker(api.ctx)
    await worker.beat()
    await eventually(worker.render_next, timeout=10)
    await feeder.step()
    view = BatchStore(api.ctx.engine).get(batch)
    assert view is not None
    assert [i.state for i in view.items] == ["submitted", "submitted", "refused"]
    assert view.items[2].error == REVOKED

    banned = api.issue("discord:3")
    other = make_batch(api, banned, "discord:3", 1)
    api.ctx.moderation_store.ban("discord:3", 42, created_by="discord:9", reason="spam")
    await feeder.step()
    view = BatchStore(api.ctx.engine).get(other)
    assert view is not None
    assert view.items[0].state == "refused"
    assert "stopped you making clips here for good (spam)" in (view.items[0].error or "")


async def test_a_process_gone_mid_batch_is_followed_without_duplicates(
    redis_server: LocalRedis, redis: Redis, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    member = "discord:1"
    async with capped_api(redis_server, data) as api:
        batch = make_batch(api, api.issue(member), member, 5)
        # The first process claimed two items and queued the first one's clip, then died
        # before marking it, or doing anything about the second.
        first, _second = BatchStore(api.ctx.engine).claim(member, limit=2)
        assert await BatchFeeder(api.ctx)._submitted(first) is None
    async with capped_api(redis_server, data) as api:  # the API again, on the same data
        feeder = BatchFeeder(api.ctx, lease=timedelta(0))  # the dead process's claims lapsed
        worker = FakeWorker(api.ctx)
        await worker.beat()
        while len(worker.taken) < 5:
            await feeder.step()
            await worker.render_next()
        items = [item_generation_id(batch, i) for i in range(5)]
        assert sorted(worker.taken) == sorted(items)  # each once: the one submitted twice too
        assert asked_in_order(api.ctx, member) == items
        assert {api.ctx.store.get(g).status for g in items} == {GenerationStatus.DONE}  # type: ignore[union-attr]
        view = BatchStore(api.ctx.engine).get(batch)
        assert view is not None
        assert [i.generation_id for i in view.items] == items


async def test_two_api_processes_feed_one_batch_once_and_in_order(
    redis_server: LocalRedis, redis: Redis, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    member = "discord:1"
    async with capped_api(redis_server, data) as one, capped_api(redis_server, data) as two:
        batch = make_batch(one, one.issue(member), member, 6)
        feeders = [BatchFeeder(one.ctx), BatchFeeder(two.ctx)]
        worker = FakeWorker(one.ctx)
        await worker.beat()
        while len(worker.taken) < 6:
            await asyncio.gather(*(f.step() for f in feeders))  # side by side, every step
            assert await in_flight(one.ctx, member) <= CAP
            await worker.render_next()
        items = [item_generation_id(batch, i) for i in range(6)]
        assert sorted(worker.taken) == sorted(items)
        assert asked_in_order(one.ctx, member) == items
