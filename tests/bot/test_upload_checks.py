"""Upload checks run on a pool of their own, never on the default executor gallery writes use."""

from __future__ import annotations

import asyncio
import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from gallery.db import make_engine, migrate
from gallery.models import GenerationCreate
from gallery.store import GalleryStore
from intake.media.checks import CheckTooSlow, UploadChecks
from intake.media.images import AttachmentError
from intake.media.videos import VideoTooComplex
from intake.rowwriter import RowWriter
from tests.harness.crafted import jpeg_of_many_scans, webm_of_tiny_blocks
from tests.harness.renderjobs import job
from tests.harness.uploads import mp4
from tests.harness.waiting import eventually

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def store(tmp_path: Path) -> GalleryStore:
    engine = make_engine(f"sqlite:///{tmp_path / 'reelbot.db'}")
    migrate(engine)
    return GalleryStore(engine)


async def test_a_rows_write_is_not_held_up_by_six_crafted_videos(store: GalleryStore) -> None:
    """Six worst-case WebMs once held every default-executor thread for 13 s each, and each
    /create's row waited behind them. Now the row is written while they are still being read,
    and each is refused, as too complex to check. With one default thread, a check queued
    there would put the row behind all six, whatever the timing."""
    asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor(1))
    checks = UploadChecks()
    rows = RowWriter(store)
    crafted = webm_of_tiny_blocks()
    try:
        finished: list[str] = []

        async def check(n: int) -> BaseException | None:
            try:
                await checks.video(crafted, f"crafted{n}.webm")
            except VideoTooComplex as exc:
                return exc
            finally:
                finished.append(f"check {n}")
            return None

        uploads = [asyncio.create_task(check(n)) for n in range(6)]
        await asyncio.sleep(0)  # every check is under way
        clip = job("discord:1", 1)
        await rows.add(GenerationCreate.from_spec(clip.generation_id, clip.spec.model_dump()))
        finished.append("row")
        refusals = await asyncio.gather(*uploads)
    finally:
        checks.close()
    assert finished.index("row") < 5  # written before the sixth check was done
    assert store.get(clip.generation_id) is not None
    for n, refusal in enumerate(refusals):
        assert f"`crafted{n}.webm` is too complex for me to check" in str(refusal)


def _die(data: bytes, filename: str) -> None:
    os._exit(1)  # what a check's process killed by the kernel looks like


async def test_a_check_whose_process_died_is_refused_plainly_and_the_next_one_works() -> None:
    checks = UploadChecks()
    try:
        with pytest.raises(AttachmentError, match=r"couldn't check `boom\.mp4` just now"):
            await checks._run(_die, b"", "boom.mp4")
        assert (await checks.video(mp4(1.5), "walk.mp4")).info.duration_s == pytest.approx(1.5)
    finally:
        checks.close()


def _pid(data: bytes, filename: str) -> int:
    return os.getpid()


def _reaped(pid: int) -> bool:
    """Whether process `pid` is gone, and not left a zombie."""
    return not Path(f"/proc/{pid}").exists()


async def test_a_picture_built_to_be_slow_is_stopped_at_its_deadline_and_the_next_works() -> None:
    """Pillow's decoders bound nothing: a 100 KB JPEG repeating one scan 3,000 times took the
    only check process 30 s (a 10 MB one, hours), and every upload waited behind it. Now it
    is stopped at the check's deadline, its process killed and reaped, and the next works."""
    checks = UploadChecks(workers=1, seconds=5.0)  # a new process starts within it
    try:
        pid = await checks._run(_pid, b"", "pid")
        with pytest.raises(CheckTooSlow) as caught:
            await checks.image(jpeg_of_many_scans(6000), "slow.jpg")  # a minute here
        assert str(caught.value).startswith("`slow.jpg` took too long for me to check (over 5 s")
        assert "Save or export it again" in str(caught.value)
        await eventually(lambda: _reaped(pid))
        assert (await checks.video(mp4(1.5), "walk.mp4")).info.duration_s == pytest.approx(1.5)
    finally:
        checks.close()


def _until(data: bytes, filename: str) -> str:
    """A check that says it started (the first path in `data`), then runs until the second
    path exists."""
    started, go = (Path(name) for name in data.decode().split("\n"))
    started.touch()
    while not go.exists():
        time.sleep(0.01)
    return filename


async def test_a_check_sharing_the_pool_with_a_stopped_one_is_sent_again(tmp_path: Path) -> None:
    """Stopping a slow check kills its whole pool: a check running beside it is sent again
    to the new pool, not refused."""
    checks = UploadChecks(workers=2, seconds=600.0)
    started, go = tmp_path / "started", tmp_path / "go"
    try:
        beside = asyncio.create_task(checks._run(_until, f"{started}\n{go}".encode(), "cat.png"))
        await eventually(started.exists)
        started.unlink()
        checks._replace(checks.executor, kill=True)  # what a slow check's deadline does
        await eventually(started.exists)  # running again, in the new pool
        go.touch()
        assert await beside == "cat.png"
    finally:
        checks.close()


async def test_closing_stops_a_check_still_running() -> None:
    """The pool's shutdown waits for a running check: a bot stopped while it decoded a slow
    file would not exit until it was done. `close` kills it."""
    checks = UploadChecks(workers=1, seconds=600.0)
    pid = await checks._run(_pid, b"", "pid")
    slow = asyncio.create_task(checks.image(jpeg_of_many_scans(3000), "slow.jpg"))
    await eventually(lambda: _busy(pid))
    checks.close()
    await eventually(lambda: _reaped(pid))
    with pytest.raises(AttachmentError):
        await slow


def _busy(pid: int) -> bool:
    """Whether `pid` is using the CPU now (state R)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] == "R"
