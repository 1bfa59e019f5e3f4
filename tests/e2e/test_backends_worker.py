"""Every model family renders through a real `python -m worker` process, as in production.

Each backend gets its own worker (`REELBOT_BACKEND=<name>`, `REELBOT_MODEL=builtin:tiny`, hub
offline) on the shared test Redis, with its own SQLite and media folder. Jobs enter the way the
bot's enter: `/create` text read by the bot's parser for that backend, the picture of an
image-to-video clip checked and stored as `/animate` stores it, then `Submitter` (gallery row
first, then the fair scheduler). The assertions are on what a member or the gallery gets: the
MP4 decodes with the frames, size and rate the spec asked for, the gallery row is done and
carries the clip's settings, and a `-camera pan left` clip visibly pans.

CI has two cores: the tiny models at their families' native sizes take minutes (AnimateDiff's
680×384, 25 steps: over five minutes), so the parser reads text for the same capabilities with a
small native size and 2 steps. Everything after the parser is the production path.
"""

from __future__ import annotations

import asyncio
import io
import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from cli.local_redis import LocalRedis
from core.capabilities import capabilities_for
from core.flags import parse_request
from core.rendercaps import Capabilities
from core.spec import RenderSpec
from gallery.db import make_engine, migrate
from gallery.media import LocalMediaStore
from gallery.models import Generation
from gallery.store import GalleryStore
from intake.media.images import check_image
from intake.submit import admitting_submitter, connect_queue, new_generation_id
from tests.harness.video import decoded, shift
from tests.harness.waiting import eventually
from tests.harness.workers import WorkerProcesses, reelbot_env

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

SMALL = {"native_pixels": 256 * 128, "default_steps": 2}


@dataclass(frozen=True)
class Case:
    backend: str
    text: str  # `/create` text; -fps differs from each family's native rate to test resampling
    mode: str = "t2v"


CASES = [
    Case("ltx", "a fox running through snow -len 1 -fps 12 -seed 7"),  # native 24 fps
    Case("wan", "a paper boat on a rainy street -len 1 -fps 24 -ar 1:1 -seed 8"),  # native 24
    Case("animatediff", "a koi pond in autumn -len 1 -fps 20 -seed 9"),  # native 8
    Case("svd", "a lighthouse in a storm -len 1 -fps 10 -ar 2:1 -seed 10", mode="i2v"),  # native 7
    Case("ltx2", "a drummer on a rooftop -len 1 -fps 12 -sound -seed 11"),  # native 24, with sound
]


def small_caps(backend: str) -> Capabilities:
    return capabilities_for(backend).model_copy(update=SMALL)


@dataclass
class Install:
    """One backend's worker with its own database and media folder."""

    store: GalleryStore
    media: LocalMediaStore
    workers: WorkerProcesses
    redis_url: str


@pytest.fixture
def install(request, redis_server: LocalRedis, redis, tmp_path: Path) -> Iterator[Install]:
    """`redis` flushes the shared server; the worker starts at once and loads while we submit."""
    backend: str = request.param
    data_dir = tmp_path / "data"
    env = reelbot_env(
        redis_server.url, data_dir, REELBOT_BACKEND=backend, REELBOT_MODEL="builtin:tiny"
    )
    workers = WorkerProcesses(env, tmp_path / "logs")
    workers.start()
    engine = make_engine(f"sqlite:///{data_dir / 'reelbot.db'}")
    migrate(engine)
    try:
        yield Install(
            GalleryStore(engine), LocalMediaStore(data_dir / "media"), workers, redis_server.url
        )
    finally:
        workers.stop_all()
        engine.dispose()


def picture() -> bytes:
    """A member's upload: a 3:2 photo-like JPEG (two colours and a gradient)."""
    ramp = np.linspace(0, 255, 300).astype(np.uint8)
    image = np.zeros((200, 300, 3), np.uint8)
    image[..., 0], image[..., 1], image[..., 2] = ramp, 90, ramp[::-1]
    image[50:150, 100:200] = (250, 200, 20)
    out = io.BytesIO()
    Image.fromarray(image).save(out, format="JPEG")
    return out.getvalue()


async def submit(install: Install, spec: RenderSpec) -> tuple[str, RenderSpec]:
    """Record and queue `spec` as the bot does (an i2v picture is stored under the id first);
    returns once the clip is done, with the spec as submitted."""
    gid = new_generation_id()
    if spec.mode == "i2v":
        checked = await asyncio.to_thread(check_image, picture(), "photo.jpg")
        stored, _ = await asyncio.to_thread(install.media.save_bytes, gid, checked.png, "png")
        spec = spec.model_copy(update={"input_media": (stored,)})
    pool = await connect_queue(install.redis_url)
    try:
        async with admitting_submitter(pool, install.store) as submitter:
            await submitter.submit(spec, unlimited=True, generation_id=gid)
            return await finished(install, gid), spec
    finally:
        await pool.aclose()


async def finished(install: Install, gid: str, timeout: float = 180) -> str:
    """Wait for the gallery row to settle; the worker's log is the message if it failed."""
    row = await eventually(
        lambda: asyncio.to_thread(install.store.get, gid),
        lambda row: row.status in ("done", "failed"),
        timeout=timeout,
        every=0.1,
    )
    assert row.status == "done", f"{row.error}\n{install.workers.logs()[-4000:]}"
    return gid


def check_clip(install: Install, gid: str, spec: RenderSpec) -> tuple[Generation, np.ndarray]:
    """The MP4 is what the spec asked for and the row says so; returns both."""
    row = install.store.get(gid)
    assert row is not None and row.media_path
    frames, fps = decoded(install.media.resolve(row.media_path))
    assert frames.shape == (spec.num_frames, spec.height, spec.width, 3)
    assert fps == spec.fps
    assert frames.std() > 1  # a rendered picture, not a flat fill
    fields = ("backend", "prompt", "seed", "width", "height", "num_frames", "fps", "camera")
    assert {f: getattr(row, f) for f in fields} == {f: getattr(spec, f) for f in fields}
    assert (row.aspect_ratio, row.attempts) == (spec.aspect_ratio, 1)
    assert (row.spec["mode"], tuple(row.spec["input_media"])) == (spec.mode, spec.input_media)
    return row, frames


def pan_dx(frames: np.ndarray) -> float:
    """The median horizontal move of the picture between consecutive frames, in pixels."""
    grey = frames[..., 1].astype(np.float64)
    return float(np.median([shift(a, b)[0] for a, b in itertools.pairwise(grey)]))


@pytest.mark.parametrize(
    ("install", "case"),
    [(c.backend, c) for c in CASES],
    indirect=["install"],
    ids=[c.backend for c in CASES],
)
async def test_each_backend_renders_a_job_through_a_worker_process(
    install: Install, case: Case
) -> None:
    caps = small_caps(case.backend)
    spec = parse_request(case.text, capabilities=caps, owner_id="cli:ci", owner_name="ci")
    if case.mode != spec.mode:
        spec = spec.model_copy(update={"mode": case.mode})
    assert case.mode in caps.modes and spec.backend == case.backend

    gid, spec = await submit(install, spec)

    row, _ = check_clip(install, gid, spec)
    assert row.owner_id == "cli:ci" and row.status == "done"
    if case.mode == "i2v":
        assert row.spec["input_media"] == [f"{gid[:2]}/{gid}.png"]
    with av.open(str(install.media.resolve(row.media_path))) as container:
        audio = [(s.codec_context.name, s.channels) for s in container.streams.audio]
    assert audio == ([("aac", 2)] if spec.sound else [])  # -sound: the model's own track

    if case.backend == "wan":  # no native camera: the worker's virtual camera, measured
        text = case.text + " -camera pan left -motion 4"
        panned = parse_request(text, capabilities=caps, owner_id="cli:ci", owner_name="ci")
        _, frames = check_clip(install, *await submit(install, panned))
        _, still = check_clip(install, gid, spec)
        # The camera goes left, so the picture moves right; without a camera it stays put.
        assert pan_dx(frames) > 1.0 > abs(pan_dx(still))
