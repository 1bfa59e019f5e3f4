"""`reelbot edit CLIP "make it snow" --where left` from a terminal with a real wan_vace worker
(`builtin:tiny`): the terminal's path (`cli.edit.edit_clip`, what the command runs after reading
its options) prints the new MP4's path and gallery link as `reelbot create` does, and the clip
there is the edit, a child of the clip it names. Sized small (the tiny model renders in seconds
on a CPU), as `reelbot create`'s tests size theirs; the command itself is run as a process by
tests/e2e/test_cli_edit.py."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest

from cli.console import create_clip
from cli.edit import edit_clip, parent_of
from cli.local_redis import LocalRedis
from core.capabilities import capabilities_for
from gallery.community import CommunityStore
from gallery.db import make_engine, migrate
from gallery.media import LocalMediaStore
from gallery.store import GalleryStore
from intake.edits import EditAsk
from intake.submit import connect_queue
from tests.harness.stack import probe
from tests.harness.workers import WorkerProcesses, reelbot_env

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

VACE = {"REELBOT_BACKEND": "wan_vace", "REELBOT_MODEL": "builtin:tiny"}
SMALL = capabilities_for("wan_vace").model_copy(
    update={"native_pixels": 128 * 64, "default_steps": 2}
)


@pytest.fixture
def vace_worker(
    redis_server: LocalRedis, redis: object, data_dir: Path
) -> Iterator[WorkerProcesses]:
    """One wan_vace worker on a flushed Redis (no other test's workers or jobs left in it)."""
    procs = WorkerProcesses(reelbot_env(redis_server.url, data_dir, **VACE), data_dir / "logs")
    procs.start()
    yield procs
    procs.stop_all()


async def test_reelbot_edit_prints_the_edited_clips_path(
    redis_server: LocalRedis, vace_worker: WorkerProcesses, data_dir: Path
) -> None:
    engine = make_engine(f"sqlite:///{data_dir / 'reelbot.db'}")
    migrate(engine)
    store, media = GalleryStore(engine), LocalMediaStore(data_dir / "media")
    pool = await connect_queue(redis_server.url)
    try:
        parent = await create_clip(
            "a red car -len 1 -seed 3",
            pool=pool,
            store=store,
            media=media,
            backend="wan_vace",
            capabilities=SMALL,
            public_url="http://gallery.test",
        )
        out = io.StringIO()
        row = await parent_of(store, f"http://gallery.test/clips/{parent.generation_id}", "")
        made = await edit_clip(
            row,
            EditAsk("modify", "make it snow", where="left"),
            None,
            pool=pool,
            store=store,
            media=media,
            main=SMALL,
            public_url="http://gallery.test",
            out=out,
        )
    finally:
        await pool.aclose()
    printed = out.getvalue()
    [line] = [x for x in printed.splitlines() if x.startswith("file:")]
    path = Path(line.removeprefix("file:").strip())
    [child] = CommunityStore(engine).children(parent.generation_id)
    assert made.generation_id == child.id and path == made.path and path.exists()
    assert f"gallery: http://gallery.test/clips/{child.id}" in printed
    row = store.get(child.id)
    assert row is not None and row.spec["mode"] == "edit" and row.owner_id == "cli:local"
    assert row.spec["edit"]["box"] == {"x": 0.0, "y": 0.0, "w": 50.0, "h": 100.0}
    width, height, frames, fps = probe(path.read_bytes())
    assert (width, height, frames, fps) == (parent.spec.width, parent.spec.height, 24, 24.0)
    engine.dispose()
