"""Jobs written straight into Redis, as anyone who can reach it could: a real worker renders
only what a gallery row asked for, within what its model family makes, from the row's own files.
"""

from __future__ import annotations

import io
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from arq.connections import ArqRedis, RedisSettings, create_pool
from PIL import Image

from core.capabilities import FAMILIES, capabilities_for
from core.flags import parse_request
from core.spec import (
    DEFAULT_QUEUE,
    RENDER_TASK,
    RenderJob,
    RenderSpec,
    deserialize_job,
    serialize_job,
)
from gallery.db import make_engine, migrate
from gallery.media import LocalMediaStore
from gallery.models import GenerationCreate, GenerationStatus
from gallery.store import GalleryStore
from jobs.keys import events_key
from tests.harness.workers import WorkerProcesses, reelbot_env
from worker.job_check import Refusal, check_size

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

TINY = capabilities_for("tiny")
ALICE, MALLORY = "cli:alice", "cli:mallory"


@pytest.fixture(scope="module")
def worker(redis_server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[WorkerProcesses]:
    """One tiny worker with the default REELBOT_WORK_LIMIT (the harness raises it for others)."""
    folder = tmp_path_factory.mktemp("job-check")
    env = reelbot_env(redis_server.url, folder / "data", REELBOT_WORK_LIMIT="1")
    procs = WorkerProcesses(env, folder / "logs")
    procs.start()
    yield procs
    procs.stop_all()


@pytest.fixture
def gallery(worker: WorkerProcesses) -> tuple[GalleryStore, LocalMediaStore]:
    engine = make_engine(f"sqlite:///{worker.data_dir / 'reelbot.db'}")
    migrate(engine)
    return GalleryStore(engine), LocalMediaStore(worker.data_dir / "media")


@pytest.fixture
async def pool(redis_server, redis) -> AsyncIterator[ArqRedis]:  # redis: a flushed database
    arq = await create_pool(
        RedisSettings.from_dsn(redis_server.url),
        job_serializer=serialize_job,
        job_deserializer=deserialize_job,
    )
    yield arq
    await arq.aclose()


def spec(owner: str = ALICE, **changes: Any) -> RenderSpec:
    base = parse_request("a lighthouse in fog -seed 3", capabilities=TINY)
    return RenderSpec.model_validate({**base.model_dump(), "owner_id": owner, **changes})


def record(store: GalleryStore, gid: str, asked: RenderSpec) -> None:
    """The row a front end writes before it queues the job."""
    store.add_generation(GenerationCreate.from_spec(gid, asked.model_dump(mode="json")))


async def forge(pool: ArqRedis, gid: str, sent: RenderSpec) -> dict[str, Any]:
    """Put a job into arq's queue directly, past the fair scheduler; what the worker returned."""
    job = RenderJob(generation_id=gid, spec=sent)
    queued = await pool.enqueue_job(
        RENDER_TASK, job.model_dump(mode="json"), _job_id=gid, _queue_name=DEFAULT_QUEUE + "@tiny"
    )
    assert queued is not None
    result: dict[str, Any] = await queued.result(timeout=120)
    return result


async def nothing_rendered(pool: ArqRedis, media: LocalMediaStore, gid: str) -> None:
    assert list(media.root.rglob(f"{gid}*")) == []  # no clip, poster or copy
    events = await pool.xrange(events_key(gid))
    assert not any(b'"started"' in value for _, fields in events for value in fields.values())


async def test_a_job_with_no_gallery_row_renders_nothing(pool, gallery, worker) -> None:
    store, media = gallery
    gid = "a1" * 16
    assert await forge(pool, gid, spec()) == {"status": "rejected", "generation_id": gid}
    await nothing_rendered(pool, media, gid)
    assert store.get(gid) is None
    assert "job refused, nothing rendered: no gallery row has this generation id" in worker.logs()


async def test_a_job_that_is_not_its_rows_leaves_the_row_to_its_own_job(
    pool, gallery, worker
) -> None:
    store, media = gallery
    gid = "b2" * 16
    record(store, gid, spec())
    # the row's id, another owner and a far heavier clip: 200 steps at four times the size
    forged = spec(owner=MALLORY, steps=200, width=1024, height=576)
    assert (await forge(pool, gid, forged))["status"] == "rejected"
    await nothing_rendered(pool, media, gid)
    row = store.get(gid)
    assert row is not None and row.status == GenerationStatus.QUEUED and row.error is None
    assert "it differs from its gallery row in width, height, steps, owner_id" in worker.logs()


@pytest.mark.parametrize(
    "gid, asked, reason",
    [
        ("c1" * 16, spec(width=2048, height=1152), "larger than the tiny model makes"),
        ("c2" * 16, spec(num_frames=24 * 60), "larger than the tiny model makes"),
        ("c3" * 16, spec(steps=200), "times the work of the tiny model's largest clip"),
        ("c4" * 16, spec(mode="v2v"), "the tiny model can't do v2v"),
    ],
)
async def test_a_row_beyond_the_family_is_failed_unrendered(
    pool, gallery, gid: str, asked: RenderSpec, reason: str
) -> None:
    store, media = gallery
    record(store, gid, asked)  # a front end that let it through
    assert (await forge(pool, gid, asked))["status"] == "rejected"
    await nothing_rendered(pool, media, gid)
    row = store.get(gid)
    assert row is not None and row.status == GenerationStatus.FAILED
    assert reason in (row.error or "")


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (512, 288), (40, 90, 160)).save(out, "PNG")
    return out.getvalue()


async def test_an_input_of_another_request_is_refused_and_an_ancestors_is_used(
    pool, gallery
) -> None:
    store, media = gallery
    victim, thief, parent, child = "d1" * 16, "d2" * 16, "d3" * 16, "d4" * 16
    stored, _ = media.save_bytes(victim, png(), "png")
    record(store, victim, spec(mode="i2v", input_media=(stored,)))
    store.mark_failed(victim, error="not this test's business")  # nobody renders it

    stolen = spec(owner=MALLORY, mode="i2v", input_media=(stored,))
    record(store, thief, stolen)
    assert (await forge(pool, thief, stolen))["status"] == "rejected"
    await nothing_rendered(pool, media, thief)
    row = store.get(thief)
    assert row is not None and row.status == GenerationStatus.FAILED
    assert "neither this request's upload nor a file of a clip it remixes" in (row.error or "")

    # a reroll inherits its parent's upload: that is its own lineage, and it renders
    uploaded, _ = media.save_bytes(parent, png(), "png")
    record(store, parent, spec(mode="i2v", input_media=(uploaded,)))
    store.mark_failed(parent, error="not this test's business")
    reroll = spec(owner=MALLORY, mode="i2v", input_media=(uploaded,), parent_id=parent, seed=9)
    record(store, child, reroll)
    assert (await forge(pool, child, reroll))["status"] == "done"
    row = store.get(child)
    assert row is not None and row.status == GenerationStatus.DONE and row.media_path


@pytest.mark.parametrize("name", sorted(FAMILIES))
@pytest.mark.parametrize("ratio", ["5:2", "16:9", "1:1", "2:5"])
def test_every_clip_the_bot_can_ask_for_is_within_its_family(name: str, ratio: str) -> None:
    """The longest clip at the fastest rate, at any aspect ratio, and its upscale."""
    caps = FAMILIES[name]
    asked = parse_request(
        f"a fox -ar {ratio} -len {caps.max_seconds:g} -fps 24", capabilities=caps
    ).model_copy(update={"mode": caps.modes[0]})
    upscaled = asked.model_copy(update={"width": 2 * asked.width, "height": 2 * asked.height})
    for clip in (asked, upscaled):
        check_size(clip, caps, work_limit=1.0)
    with pytest.raises(Refusal):  # and a second upscale is not
        check_size(upscaled.model_copy(update={"width": 2 * upscaled.width}), caps, 1.0)


def test_the_limit_is_the_operators(tmp_path: Path) -> None:
    heavy = spec(steps=200)
    with pytest.raises(Refusal, match="REELBOT_WORK_LIMIT"):
        check_size(heavy, TINY, work_limit=1.0)
    check_size(heavy, TINY, work_limit=25.0)
