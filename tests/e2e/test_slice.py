"""The whole slice, real parts: Redis server, arq worker processes, tiny diffusers, PyAV, SQLite."""

from __future__ import annotations

import asyncio
import io
import os
import signal
from pathlib import Path

import av
import pytest

from cli.console import create_clip
from core.capabilities import capabilities_for
from core.flags import parse_request
from gallery.db import make_engine, migrate
from gallery.media import LocalMediaStore
from gallery.store import GalleryStore
from intake.submit import connect_queue
from jobs.events import follow_events
from jobs.keys import RESULT_STREAM, events_key
from tests.harness.video import decoded, psnr
from tests.harness.workers import WorkerProcesses, submit_admitted

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

FOX = "a fox running through snow -motion 3 -camera pan left -ar 9:16 -seed 7"


@pytest.fixture
def gallery(data_dir: Path) -> tuple[GalleryStore, LocalMediaStore]:
    engine = make_engine(f"sqlite:///{data_dir / 'reelbot.db'}")
    migrate(engine)
    return GalleryStore(engine), LocalMediaStore(data_dir / "media")


async def make(text: str, redis_url: str, gallery: tuple[GalleryStore, LocalMediaStore]):
    pool = await connect_queue(redis_url)
    try:
        return await create_clip(
            text,
            pool=pool,
            store=gallery[0],
            media=gallery[1],
            backend="tiny",
            public_url="http://gallery.test",
            out=io.StringIO(),
            idle_timeout_s=120,
        )
    finally:
        await pool.aclose()


async def test_create_renders_encodes_and_records_once(redis_server, redis, workers, gallery):
    workers.start()
    clip = await make(FOX, redis_server.url, gallery)

    frames, fps = decoded(clip.path)
    assert frames.shape == (clip.spec.num_frames, clip.spec.height, clip.spec.width, 3)
    assert clip.spec.height > clip.spec.width  # 9:16 is portrait
    assert fps == clip.spec.fps == 24
    assert frames.std() > 1  # a rendered picture, not a flat fill

    row = gallery[0].get(clip.generation_id)
    assert row is not None and row.status == "done" and row.attempts == 1
    assert gallery[1].resolve(row.media_path) == clip.path
    assert {"pickup", "denoise", "decode", "encode"} <= set(row.timings)
    # The gallery grid's preview: the same (watermarked) picture, small, short and silent.
    preview_path = gallery[1].path_for(clip.generation_id, "preview.mp4")
    preview, preview_fps = decoded(preview_path)
    assert max(preview.shape[1:3]) <= 360 and preview_fps == 24
    assert len(preview) <= 3 * 24 and preview_path.stat().st_size < clip.path.stat().st_size
    with av.open(str(preview_path)) as container:
        assert [s.type for s in container.streams] == ["video"]

    results = await redis.xrange(RESULT_STREAM)
    assert [r[1][b"r"] for r in results].count(results[0][1][b"r"]) == 1 and len(results) == 1
    kinds = [e.kind async for e in follow_events(redis, clip.generation_id)]
    assert kinds[0] == "queued" and kinds[-1] == "done" and "step" in kinds


async def test_same_seed_same_clip_other_seed_other_clip(redis_server, redis, workers, gallery):
    workers.start()
    first = await make("a lighthouse in a storm -seed 42 -len 1", redis_server.url, gallery)
    again = await make("a lighthouse in a storm -seed 42 -len 1", redis_server.url, gallery)
    other = await make("a lighthouse in a storm -seed 43 -len 1", redis_server.url, gallery)
    assert first.generation_id != again.generation_id
    a, b, c = (decoded(x.path)[0] for x in (first, again, other))
    # The same picture: only the invisible watermark differs, as it carries each clip's own id
    # (about 30 dB apart once H.264 has coded the tiny model's noise; another seed: ~19 dB).
    assert psnr(a, b) > 26
    assert psnr(a, b) > psnr(a, c) + 8
    # Only the worker's first clip waited for the model to load, and only it says so.
    timings = [gallery[0].get(x.generation_id).timings for x in (first, again, other)]
    assert ["load" in t for t in timings] == [True, False, False]


async def test_worker_killed_mid_render_still_delivers_the_same_clip_once(
    redis_server, redis, workers: WorkerProcesses, gallery
):
    store, media = gallery
    capabilities = capabilities_for("tiny")
    # Enough steps that the kill lands mid-denoise.
    spec = parse_request("a paper boat on a rainy street -seed 11", capabilities=capabilities)
    spec = spec.model_copy(update={"steps": 40})

    pool = await connect_queue(redis_server.url)
    try:
        victim = workers.start()
        gid = await submit_admitted(redis_server.url, store, spec)
        async for event in follow_events(pool, gid, idle_timeout_s=120):
            if event.kind == "step" and event.step < event.total:
                os.kill(victim.pid, signal.SIGKILL)
                victim.wait()
                break
        else:
            pytest.fail("never saw a denoising step to interrupt")
        killed_at = asyncio.get_running_loop().time()

        workers.start()  # the replacement notices the dead heartbeat and retries the job
        events = [e async for e in follow_events(pool, gid, idle_timeout_s=120)]
        recovered_in = asyncio.get_running_loop().time() - killed_at
    finally:
        await pool.aclose()

    assert events[-1].kind == "done", workers.logs()
    assert max(e.attempt for e in events if e.kind == "started") == 2
    assert recovered_in < 60  # arq's own in-progress TTL would be job_timeout + 10 s = 610 s

    row = store.get(gid)
    assert row is not None and row.status == "done" and row.attempts == 2
    results = await redis.xrange(RESULT_STREAM)
    assert len(results) == 1

    # The retry produced exactly the clip an uninterrupted render of the same spec produces.
    reference = spec.model_copy(update={"owner_id": "cli:reference"})
    pool = await connect_queue(redis_server.url)
    try:
        ref = await submit_admitted(redis_server.url, store, reference)
        assert [e.kind async for e in follow_events(pool, ref)][-1] == "done"
    finally:
        await pool.aclose()
    retried = decoded(media.path_for(gid))[0]
    uninterrupted = decoded(media.path_for(ref))[0]
    assert psnr(retried, uninterrupted) > 26  # the same clip; each watermark carries its own id
    assert await redis.exists(events_key(gid))
