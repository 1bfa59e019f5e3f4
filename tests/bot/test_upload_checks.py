"""Upload checks run on a pool of their own, never on the default executor gallery writes use."""

from __future__ import annotations

import asyncio
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from bot.intake.rowwriter import RowWriter
from bot.media.checks import UploadChecks
from bot.media.images import AttachmentError
from bot.media.videos import VideoTooComplex
from gallery.db import make_engine, migrate
from gallery.models import GenerationCreate
from gallery.store import GalleryStore
from tests.harness.crafted import webm_of_tiny_blocks
from tests.harness.renderjobs import job
from tests.harness.uploads import mp4

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
