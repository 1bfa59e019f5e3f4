"""Six worst-case uploads checked at once: what it costs the bot's other work, per executor.

    python bench/uploads.py [--files 6]

Each crafted 25 MB video (tests/harness/crafted.py) is refused by the bounded readers
(`intake.media.budget`). While six are checked, the event loop's stalls are measured (a 5 ms
ticker's worst lateness) and a gallery row is written through the default executor as every
`/create` writes one (`intake.rowwriter`), timed from the moment the checks started. Checks run
on the default executor (as before), a dedicated thread pool, or a dedicated process pool
(`intake.media.checks`).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
import uuid
from concurrent.futures import Executor, ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gallery.db import make_engine, migrate  # noqa: E402
from gallery.models import GenerationCreate  # noqa: E402
from gallery.store import GalleryStore  # noqa: E402
from intake.media.checks import UploadChecks, process_pool  # noqa: E402
from tests.harness.crafted import CRAFTED  # noqa: E402
from tests.harness.renderjobs import job  # noqa: E402


async def ticker(stalls: list[float], stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    while not stop.is_set():
        before = loop.time()
        await asyncio.sleep(0.005)
        stalls.append(loop.time() - before - 0.005)


async def trial(
    kind: str, executor: Executor | None, files: list[bytes], store: GalleryStore
) -> str:
    checks = UploadChecks(executor) if executor is not None else None
    if checks is not None:  # a warm pool: start-up is paid once per bot, not per upload
        await asyncio.gather(
            *(checks.video(b"", "warm.mp4") for _ in range(2)), return_exceptions=True
        )
    stalls: list[float] = []
    stop = asyncio.Event()
    tick = asyncio.create_task(ticker(stalls, stop))
    start = time.perf_counter()

    async def check(data: bytes) -> float:
        if checks is not None:
            await asyncio.gather(checks.video(data, "crafted.webm"), return_exceptions=True)
        else:
            from intake.media.videos import check_video

            await asyncio.gather(
                asyncio.to_thread(check_video, data, "crafted.webm"), return_exceptions=True
            )
        return time.perf_counter() - start

    async def write_row() -> float:
        await asyncio.sleep(0.05)  # the checks are under way
        spec = job("discord:1", 1).spec.model_copy(update={"owner_id": "discord:1"})
        row = GenerationCreate.from_spec(uuid.uuid4().hex, spec.model_dump(mode="json"))
        await asyncio.to_thread(store.add_generations, [row])
        return time.perf_counter() - start

    *done, row_at = await asyncio.gather(*(check(d) for d in files), write_row())
    stop.set()
    await tick
    if checks is not None:
        checks.close()
    return (
        f"{kind:>16}: row written after {row_at:5.2f} s; all checks done after {max(done):5.2f} s; "
        f"worst loop stall {max(stalls) * 1000:6.1f} ms"
    )


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=6)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    makers = list(CRAFTED.values())
    files = [makers[n % len(makers)]() for n in range(args.files)]
    with tempfile.TemporaryDirectory() as folder:
        engine = make_engine(f"sqlite:///{folder}/bench.db")
        migrate(engine)
        store = GalleryStore(engine)
        for _ in range(args.rounds):
            for kind, make in (
                ("default executor", lambda: None),
                ("2 threads", lambda: ThreadPoolExecutor(2)),
                ("2 processes", lambda: process_pool(2)),
                ("1 process", lambda: process_pool(1)),
            ):
                print(await trial(kind, make(), files, store), flush=True)


if __name__ == "__main__":
    asyncio.run(main())
