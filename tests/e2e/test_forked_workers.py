"""The suite's workers are forked from a preloaded parent (tests/harness/forkserver.py) to save
their ~5 s of imports; they must be the workers `python -m worker` starts: the same frames for the
same spec, the same exit codes, seen through the same Popen-like handle. (With
REELBOT_TEST_SPAWN_WORKERS=1 both sides are spawned and these hold trivially.)"""

from __future__ import annotations

import signal
from pathlib import Path

import av
import numpy as np
import pytest

from core.capabilities import capabilities_for
from core.flags import parse_request
from gallery.db import make_engine, migrate
from gallery.media import LocalMediaStore
from gallery.store import GalleryStore
from jobs.events import follow_events
from tests.harness.workers import WorkerProcesses, reelbot_env, submit_admitted

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]


def frames(path: Path) -> np.ndarray:
    with av.open(str(path)) as container:
        return np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])


async def test_a_forked_worker_renders_the_frames_a_spawned_one_does(
    redis_server, redis, data_dir: Path
) -> None:
    engine = make_engine(f"sqlite:///{data_dir / 'reelbot.db'}")
    migrate(engine)
    store, media = GalleryStore(engine), LocalMediaStore(data_dir / "media")
    # No watermark: it carries each clip's own id, and the frames are to be compared exactly.
    env = reelbot_env(redis_server.url, data_dir, REELBOT_WATERMARK="false")
    workers = WorkerProcesses(env, data_dir.parent / "logs")
    tiny = capabilities_for("tiny")
    spec = parse_request("a lighthouse in a storm -seed 42 -len 1", capabilities=tiny)
    made = []
    try:
        for spawn in (True, False):
            worker = workers.start(spawn=spawn)
            gid = await submit_admitted(redis_server.url, store, spec)
            assert [e.kind async for e in follow_events(redis, gid)][-1] == "done", workers.logs()
            worker.kill()
            assert worker.wait(timeout=30) == -signal.SIGKILL
            made.append(gid)
    finally:
        workers.stop_all()
        engine.dispose()
    spawned, forked = (frames(media.path_for(gid)) for gid in made)
    assert spawned.shape == forked.shape and np.array_equal(spawned, forked)
    assert spawned.std() > 1  # a rendered picture, not a flat fill


async def test_bad_settings_exit_2_whether_forked_or_spawned(redis_server, data_dir: Path) -> None:
    """The code `reelbot up` reads as "don't restart me", from either kind of worker."""
    env = reelbot_env(redis_server.url, data_dir, REELBOT_BACKEND="no-such-family")
    workers = WorkerProcesses(env, data_dir.parent / "logs")
    try:
        codes = [workers.start(spawn=spawn).wait(timeout=60) for spawn in (True, False)]
    finally:
        workers.stop_all()
    assert codes == [2, 2], workers.logs()
    assert workers.logs().count("bad settings") == 2
