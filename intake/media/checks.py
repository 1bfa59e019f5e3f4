"""Where uploads are judged: a small executor of their own, never the one database writes use.

`asyncio.to_thread` runs on the event loop's default executor (six threads on a 2-core host),
which also writes every request's gallery row (`intake.rowwriter`). Six crafted videos
checked there once held all six threads for 13 s, and every `/create` waited behind them. The
checks are bounded now (`intake.media.budget`), and they run here: at most `WORKERS` at once, in
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

Each check also has a deadline (`CHECK_SECONDS`): the video readers bound themselves, but
Pillow's decoders do not. A 100 KB progressive JPEG whose last scan is repeated 3,000 times
takes libjpeg 30 s (a 10 MB one, hours), and with one process it held up every upload behind
it. At most `WORKERS` checks are sent at once, so a check's time is its own, never its queue's;
one past its deadline has its process killed (the pool is replaced, a check that shared it is
sent again) and the member is told their file took too long to check.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import weakref
from collections.abc import Callable
from concurrent.futures import Executor, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import TypeVar

from intake.media.images import AttachmentError, CheckedImage, check_image, shown_name
from intake.media.videos import CheckedVideo, judge_video
from intake.media.voices import CheckedVoice, check_voice

log = logging.getLogger(__name__)

WORKERS = max(1, (os.cpu_count() or 2) // 2)
CHECK_SECONDS = 15.0  # one check's time on its process: a real file needs well under 2 s
T = TypeVar("T")


def process_pool(workers: int = WORKERS) -> ProcessPoolExecutor:
    return ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("forkserver"))


class CheckTooSlow(AttachmentError):
    """A file that took longer to check than any real picture or video does."""


class UploadChecks:
    """Judges pictures and videos on `executor` (by default a pool of `workers` processes,
    made on the first upload: a bot nobody sends files to starts no process and holds no
    semaphore; a pool whose child died is replaced), each within `seconds`."""

    def __init__(
        self,
        executor: Executor | None = None,
        *,
        workers: int = WORKERS,
        seconds: float = CHECK_SECONDS,
    ) -> None:
        self._executor = executor
        self._owned = executor is None
        self._workers = workers
        self._seconds = seconds
        self._slots: asyncio.Semaphore | None = None
        self._stopped: weakref.WeakSet[Executor] = weakref.WeakSet()  # killed for a slow check

    @property
    def executor(self) -> Executor:
        if self._executor is None:
            self._executor = process_pool(self._workers)
        return self._executor

    async def video(self, data: bytes, filename: str) -> CheckedVideo:
        """`intake.media.videos.check_video`, off the event loop and off the default executor."""
        info = await self._run(judge_video, data, filename)
        return CheckedVideo(data=data, info=info)

    async def image(self, data: bytes, filename: str) -> CheckedImage:
        """`intake.media.images.check_image`, off the event loop and off the default executor."""
        return await self._run(check_image, data, filename)

    async def voice(self, data: bytes, filename: str) -> CheckedVoice:
        """`intake.media.voices.check_voice` (/speak), decoded in a check process as above."""
        return await self._run(check_voice, data, filename)

    async def _run(self, check: Callable[[bytes, str], T], data: bytes, filename: str) -> T:
        async with self._slot():
            again = True
            while True:
                executor = self.executor
                loop = asyncio.get_running_loop()
                future = loop.run_in_executor(executor, check, data, filename)
                try:
                    return await asyncio.wait_for(future, self._seconds)
                except TimeoutError:
                    log.warning("checking %r took over %g s; stopped", filename, self._seconds)
                    self._replace(executor, kill=True)
                    raise CheckTooSlow(
                        f"`{shown_name(filename)}` took too long for me to check (over "
                        f"{self._seconds:g} s; a real picture or video takes a second or two). "
                        "Save or export it again and attach the new file."
                    ) from None
                except BrokenProcessPool:
                    if again and executor in self._stopped:
                        again = False  # killed for another file's check: this one goes again
                        continue
                    log.error("an upload check's process died on %r", filename)
                    self._replace(executor)
                    raise AttachmentError(
                        f"I couldn't check `{shown_name(filename)}` just now. "
                        "Please attach it again."
                    ) from None

    def _slot(self) -> contextlib.AbstractAsyncContextManager[object]:
        """Our pool: a check is sent only when a process is free, so its deadline is its own
        time, never its queue's. A given executor queues as its owner chose."""
        if not self._owned:
            return contextlib.nullcontext()
        if self._slots is None:
            self._slots = asyncio.Semaphore(self._workers)
        return self._slots

    def _replace(self, executor: Executor, *, kill: bool = False) -> None:
        """The next check gets a new pool; `kill` stops this one's checks in flight."""
        if not self._owned or self._executor is not executor:
            return
        if kill:
            self._stopped.add(executor)
            _kill_workers(executor)
        executor.shutdown(wait=False, cancel_futures=True)
        self._executor = None

    def close(self) -> None:
        """Stop the pool, and any check still running in it (the bot's exit would wait)."""
        if self._executor is not None:
            if self._owned:
                _kill_workers(self._executor)
            self._executor.shutdown(wait=False, cancel_futures=True)


def _kill_workers(executor: Executor) -> None:
    """Kill a process pool's processes: a task running there can't be cancelled otherwise.
    Python 3.14 has `kill_workers()`; before it, the pool's `_processes` (there since 3.2)."""
    kill = getattr(executor, "kill_workers", None)
    if kill is not None:
        kill()
        return
    for process in list((getattr(executor, "_processes", None) or {}).values()):
        process.kill()
