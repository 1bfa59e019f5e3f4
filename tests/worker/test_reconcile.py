"""Requests the database holds but Redis lost are queued again; nothing else is."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from arq.constants import in_progress_key_prefix, job_key_prefix

from gallery.db import make_engine, migrate
from gallery.models import GenerationCreate, Moderation
from gallery.store import GalleryStore
from jobs.admission import Admission
from jobs.keys import sched_job_key
from worker.reconcile import reconcile


def later() -> datetime:
    """Every row is past the grace and the job deadline by then (taken when the test runs: a
    constant taken at import was 15 minutes stale by the time a slow suite got here)."""
    return datetime.now(UTC) + timedelta(minutes=30)


def request(n: int) -> GenerationCreate:
    spec = {
        "prompt": f"a kite {n}",
        "width": 512,
        "height": 288,
        "num_frames": 48,
        "fps": 24,
        "steps": 4,
        "aspect_ratio": "16:9",
        "seed": n,
        "owner_id": f"discord:{n}",
        "owner_name": f"member {n}",
        "guild_id": 7,
    }
    return GenerationCreate.from_spec(f"{n:032x}", spec)


@pytest.fixture
def store(tmp_path: Path) -> GalleryStore:
    engine = make_engine(f"sqlite:///{tmp_path / 'r.db'}")
    migrate(engine)
    return GalleryStore(engine)


async def test_only_unfinished_requests_redis_lost_are_queued_again(redis, store) -> None:
    admission = Admission(redis)
    lost, waiting, in_arq, rendering, held, done = (request(n) for n in range(1, 7))
    for row in (lost, waiting, in_arq, rendering, held, done):
        store.add_generation(row)
    await admission.enqueue(_job(store, waiting.id), caps=None)  # still waiting: known
    await redis.set(job_key_prefix + in_arq.id, b"x")  # queued in arq: known
    store.mark_rendering(rendering.id, worker="w", attempt=1)
    await redis.set(in_progress_key_prefix + rendering.id, b"1")  # a worker has it: known
    store.set_moderation(held.id, Moderation.HELD)  # waits for a moderator, not the queue
    store.mark_done(done.id, media_path="x.mp4", size_bytes=1, timings={})

    assert await reconcile(store, admission, now=later()) == [lost.id]
    assert await redis.hget(sched_job_key(lost.id), "state") == b"waiting"
    assert await reconcile(store, admission, now=later()) == []  # idempotent
    # Too young: its submission may still be on its way to Redis.
    assert await reconcile(store, admission, now=datetime.now(UTC)) == []


async def test_a_redis_that_lost_everything_gets_every_request_back(redis, store) -> None:
    admission = Admission(redis)
    rows = [request(n) for n in range(10, 15)]
    for row in rows:
        store.add_generation(row)
        await admission.enqueue(_job(store, row.id), caps=None)
    store.mark_rendering(rows[0].id, worker="w", attempt=1)
    await redis.flushdb()  # a restart without AOF
    # The rendering one comes back once its worker is overdue; the queued ones at once.
    assert sorted(await reconcile(store, admission, now=later())) == sorted(r.id for r in rows)
    for row in rows:
        assert await redis.hget(sched_job_key(row.id), "state") == b"waiting"


def _job(store: GalleryStore, gid: str):  # type: ignore[no-untyped-def]
    from core.spec import RenderJob, RenderSpec

    return RenderJob(generation_id=gid, spec=RenderSpec.model_validate(store.get(gid).spec))


async def test_a_finished_clip_redis_lost_before_it_was_posted_is_announced_once(
    redis, store
) -> None:
    from core.spec import ResultRecord
    from jobs.keys import RESULT_STREAM
    from jobs.results import publish_result_once
    from worker.reconcile import reannounce

    lost, failed, posted, sent, terminal, refused = (request(n) for n in range(11, 17))
    terminal = GenerationCreate.from_spec(terminal.id, {**terminal.spec, "owner_id": "terminal:me"})
    for row in (lost, failed, posted, sent, terminal, refused):
        store.add_generation(row)
    for row in (lost, failed, posted, sent, terminal):
        store.mark_rendering(row.id, worker="w", attempt=1)
    for row in (lost, posted, sent, terminal):
        store.mark_done(row.id, media_path=f"{row.id}.mp4", size_bytes=1, timings={})
    store.mark_failed(failed.id, error="rendering failed 3 times in a row")
    store.set_discord_message(posted.id, 99)  # posted: nothing to do
    await publish_result_once(redis, ResultRecord(generation_id=sent.id, status="done"))
    store.mark_failed(refused.id, error="Not approved by a moderator")  # never rendered

    assert await reannounce(store, redis, now=later()) == [lost.id, failed.id]
    entries = await redis.xrange(RESULT_STREAM)
    records = [ResultRecord.model_validate_json(fields[b"r"]) for _, fields in entries]
    assert [(r.generation_id, r.status) for r in records[1:]] == [
        (lost.id, "done"),
        (failed.id, "failed"),
    ]
    assert records[1].media_path == f"{lost.id}.mp4"
    assert records[2].message == "rendering failed 3 times in a row"
    assert await reannounce(store, redis, now=later()) == []  # announced once
    assert await reannounce(store, redis) == []  # too young before that: may be in flight
