"""Where uploads are judged: a small executor of their own, never the one database writes use.

`asyncio.to_thread` runs on the event loop's default executor (six threads on a 2-core host),
which also writes every request's gallery row (`bot.intake.rowwriter`). Six crafted videos
checked there once held all six threads for 13 s, and every `/create` waited behind them. The
checks are bounded now (`bot.media.budget`), and they run here: at most `WORKERS` at once, in
processes of their own, so a burst of uploads waits for its own turn while rows keep being
written.

Processes, not threads: the video readers are pure Python, and a thread running them holds the
GIL the event loop needs. `bench/uploads.py` checks six worst-case 25 MB files at once while a
gallery row is written (a shared 2-core host, three rounds): on the default executor the row
waited 0.25-1.1 s and the loop stalled up to 190-520 ms; on two threads of their own, 0.10-0.24 s
and 60-110 ms; on one process, 0.05 s and 20-40 ms. So `WORKERS` is half the cores (one on
two), leaving the rest to the bot. Children start from a clean interpreter (`forkserver`: never a
fork of the bot with its threads), import only the readers and Pillow, get each file's bytes
through a pipe and send back only the verdict.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import Executor, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import TypeVar

from bot.media.images import AttachmentError, CheckedImage, check_image, shown_name
from bot.media.videos import CheckedVideo, judge_video

log = logging.getLogger(__name__)

WORKERS = max(1, (os.cpu_count() or 2) // 2)
T = TypeVar("T")


def process_pool(workers: int = WORKERS) -> ProcessPoolExecutor:
    return ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("forkserver"))


class UploadChecks:
    """Judges pictures and videos on `executor` (by default a pool of `WORKERS` processes,
    made on the first upload: a bot nobody sends files to starts no process and holds no
    semaphore; a pool whose child died is replaced)."""

    def __init__(self, executor: Executor | None = None) -> None:
        self._executor = executor
        self._owned = executor is None

    @property
    def executor(self) -> Executor:
        if self._executor is None:
            self._executor = process_pool()
        return self._executor

    async def video(self, data: bytes, filename: str) -> CheckedVideo:
        """`bot.media.videos.check_video`, off the event loop and off the default executor."""
        info = await self._run(judge_video, data, filename)
        return CheckedVideo(data=data, info=info)

    async def image(self, data: bytes, filename: str) -> CheckedImage:
        """`bot.media.images.check_image`, off the event loop and off the default executor."""
        return await self._run(check_image, data, filename)

    async def _run(self, check: Callable[[bytes, str], T], data: bytes, filename: str) -> T:
        executor = self.executor
        try:
            return await asyncio.get_running_loop().run_in_executor(executor, check, data, filename)
        except BrokenProcessPool:
            log.error("an upload check's process died on %r", filename)
            if self._owned and self._executor is executor:  # the next upload gets a new pool
                executor.shutdown(wait=False, cancel_futures=True)
                self._executor = None
            raise AttachmentError(
                f"I couldn't check `{shown_name(filename)}` just now. Please attach it again."
            ) from None

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
