"""`reelbot up`: the whole system on one machine, with nothing but Python installed.

A private Redis when none is configured, SQLite and a media folder under the data directory,
supervised worker processes, the gallery web, the REST API, and a first clip made through the
whole path.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

from aiohttp import web

from bot.settings import BotSettings
from cli.console import create_clip
from cli.local_redis import LocalRedis, free_port
from cli.up_api import start_api
from core.errors import ConfigError, UserFacingError
from core.fleet import parse_workers
from gallery.db import make_engine, migrate
from gallery.mediastore import make_media_store
from gallery.store import GalleryStore
from gallery.web import create_app
from intake.submit import connect_queue
from jobs.admission import Admission
from jobs.keys import heartbeat_key

log = logging.getLogger(__name__)

DEMO_PROMPT = "a fox running through snow -motion 3 -camera pan left -ar 9:16 -seed 7"
# the same clip square, at a CPU plan's size (`reelbot up --model` without a GPU)
SQUARE_DEMO_PROMPT = DEMO_PROMPT.replace("-ar 9:16", "-ar 1:1")
RESTART_BACKOFF_S = 1.0


EXIT_CONFIG = 2  # a worker that exits with this will only do it again: no restart


def run_dir(data_dir: Path) -> Path:
    """Where a running `reelbot up` leaves what other commands need: its Redis and web URLs."""
    return data_dir / "run"


def read_run_file(data_dir: Path, name: str) -> str | None:
    try:
        return (run_dir(data_dir) / name).read_text().strip() or None
    except OSError:
        return None


def queue_redis_url(settings: BotSettings) -> str:
    """The Redis a terminal command queues on: REELBOT_REDIS_URL, else the running `reelbot up`'s
    (its run file), or what to do when there is neither."""
    url = settings.redis_url or read_run_file(settings.data_dir, "redis.url")
    if not url:
        raise UserFacingError(
            "No Redis configured and no `reelbot up` running here. Start `reelbot up` in "
            "another terminal, or set REELBOT_REDIS_URL to your server."
        )
    return url


@contextlib.contextmanager
def exclusive_data_dir(data_dir: Path) -> Iterator[None]:
    """One `reelbot up` per data folder: a second would share the Redis files and run files."""
    path = run_dir(data_dir) / "up.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ConfigError(
                f"Another `reelbot up` is already running with the data folder {data_dir}. "
                "Stop it first, or set REELBOT_DATA_DIR to another folder."
            ) from None
        yield


def write_run_file(stack: contextlib.AsyncExitStack, data_dir: Path, name: str, value: str) -> None:
    path = run_dir(data_dir) / name
    path.write_text(value)
    stack.callback(path.unlink, missing_ok=True)


class WorkerProcess:
    """One `reelbot worker` child, restarted whenever it exits while we are running."""

    def __init__(self, index: int, env: dict[str, str], log_dir: Path) -> None:
        self.index = index
        self.env = env
        self.log_path = log_dir / f"worker-{index}.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log_file:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "worker"],
                env=self.env,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )

    async def supervise(self) -> None:
        while True:
            await asyncio.sleep(0.5)
            if self.process is not None and self.process.poll() is not None:
                if self.process.returncode == EXIT_CONFIG:
                    log.error("worker %d refused its settings; see %s", self.index, self.log_path)
                    return
                log.warning(
                    "worker %d exited (%s); restarting", self.index, self.process.returncode
                )
                await asyncio.sleep(RESTART_BACKOFF_S)
                self.start()

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


TINY_EDITOR = "wan_vace"
"""The family the local tiny stack adds beside its tiny workers, on its tiny random weights,
so a newcomer can try every command at once: the tiny family makes clips, frames, loops and
sound; it doesn't edit clips (✏️ Modify, ↔ Expand, /add, /swap) or take `-ref` characters."""


def local_plan(workers: int | str, backend: str) -> tuple[tuple[str, int], ...]:
    """REELBOT_WORKERS as (family, count) pairs (`core.fleet.parse_workers`); a plain count on
    the tiny stack gets one tiny editor too (`TINY_EDITOR`). Pairs are taken as written."""
    plan = parse_workers(workers, backend)
    if backend == "tiny" and str(workers).strip().isdigit() and plan:
        plan = (*plan, (TINY_EDITOR, 1))
    return plan


def worker_processes(
    plan: tuple[tuple[str, int], ...], env: dict[str, str], log_dir: Path
) -> list[WorkerProcess]:
    """The workers of each family of the plan, each with its own REELBOT_BACKEND: a mixed
    fleet on one machine. A worker of another family than the tiny stack's own, beside it,
    loads that family's tiny random weights (there is nothing else to load offline)."""
    families = [family for family, count in plan for _ in range(count)]
    tiny = env.get("REELBOT_BACKEND") == "tiny" and not env.get("REELBOT_MODEL")
    return [
        WorkerProcess(i, {**env, "REELBOT_BACKEND": family, **_tiny_model(family, tiny)}, log_dir)
        for i, family in enumerate(families)
    ]


def _tiny_model(family: str, tiny_stack: bool) -> dict[str, str]:
    return {"REELBOT_MODEL": "builtin:tiny"} if tiny_stack and family != "tiny" else {}


def available_port(host: str, preferred: int) -> int:
    """The configured port if free, else any free one (the output says which)."""
    with socket.socket() as sock:
        try:
            sock.bind((host, preferred))  # 0 asks the system for any free port
            port: int = sock.getsockname()[1]
            return port
        except OSError:
            return free_port()


async def wait_for_worker(pool: object, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        async for _ in pool.scan_iter(match=heartbeat_key("*"), count=100):  # type: ignore[attr-defined]
            return True
        await asyncio.sleep(0.2)
    return False


async def run_up(
    settings: BotSettings,
    *,
    demo_prompt: str | None = DEMO_PROMPT,
    exit_after_demo: bool = False,
    model: str | None = None,
    out: TextIO = sys.stdout,
) -> int:
    """`model` (`--model`): a family, hub id or folder, pulled when missing, whose first clip
    is sized for this machine (`cli.up_model`)."""
    data_dir = settings.data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    async with contextlib.AsyncExitStack() as stack:
        stack.enter_context(exclusive_data_dir(data_dir))
        setup = None
        if model is not None:
            from cli.up_model import prepare

            setup = await asyncio.to_thread(prepare, model, data_dir=data_dir, out=out)
            settings = settings.model_copy(update={"backend": setup.family})
            if setup.first_clip is not None and demo_prompt == DEMO_PROMPT:
                demo_prompt = SQUARE_DEMO_PROMPT  # the size the cost was said for
        redis_url = settings.redis_url
        if not redis_url:
            local = await asyncio.to_thread(LocalRedis(data_dir / "redis").start)
            stack.push_async_callback(asyncio.to_thread, local.stop)
            redis_url = local.url
            write_run_file(stack, data_dir, "redis.url", redis_url)
            print(f"redis:   private server at {redis_url} (data in {local.directory})", file=out)

        database_url = settings.resolved_database_url()
        media_dir = settings.resolved_media_dir().resolve()
        engine = make_engine(database_url)
        await asyncio.to_thread(migrate, engine)
        store = GalleryStore(engine)
        media = make_media_store(settings)

        env = {
            **os.environ,
            "REELBOT_REDIS_URL": redis_url,
            "REELBOT_DATA_DIR": str(data_dir),
            "REELBOT_DATABASE_URL": database_url,
            "REELBOT_MEDIA_DIR": str(media_dir),
            **(setup.worker_env if setup is not None else {}),
        }
        plan = local_plan(settings.workers, settings.backend)
        workers = worker_processes(
            plan, {**env, "REELBOT_BACKEND": settings.backend}, data_dir / "logs"
        )
        for worker in workers:
            worker.start()
            stack.push_async_callback(asyncio.to_thread, worker.stop)
            task = asyncio.create_task(worker.supervise())
            stack.callback(task.cancel)
        if workers:
            fleet = ", ".join(f"{count} x {family}" for family, count in plan)
            print(f"workers: {fleet} (logs in {data_dir / 'logs'})", file=out)

        pool = await connect_queue(redis_url)
        stack.push_async_callback(pool.aclose)
        # Requests from any front end wait in the fair scheduler; this loop admits them to the
        # workers even when no bot runs (the bot runs one too: any number may run at once).
        admitting = asyncio.create_task(Admission(pool).run())
        stack.callback(admitting.cancel)

        port = available_port(settings.gallery_host, settings.gallery_port)
        public_url = settings.model_copy(update={"gallery_port": port}).resolved_public_url()
        runner = web.AppRunner(create_app(store, media, public_url=public_url), access_log=None)
        await runner.setup()
        stack.push_async_callback(runner.cleanup)
        await web.TCPSite(runner, settings.gallery_host, port).start()
        write_run_file(stack, data_dir, "gallery.url", public_url)
        print(f"gallery: {public_url}", file=out)
        api_url = await start_api(
            stack,
            choose_port=available_port,
            redis_url=redis_url,
            data_dir=data_dir,
            database_url=database_url,
            media_dir=media_dir,
            public_url=public_url,
            backend=settings.backend,
        )
        write_run_file(stack, data_dir, "api.url", api_url)
        print(f"api:     {api_url} (REST; documented at {api_url}/api/openapi.json)", file=out)

        if settings.discord_token is not None:
            from bot.app import run_bot

            bot_task = asyncio.create_task(
                run_bot(settings, redis_url=redis_url, public_url=public_url)
            )
            stack.callback(bot_task.cancel)
            print("discord: bot starting (REELBOT_DISCORD_TOKEN is set)", file=out)

        if demo_prompt:
            if workers and not await wait_for_worker(pool, timeout_s=120):
                print("worker:  not ready after 120 s; the clip waits in the queue", file=out)
            print(f"making a first clip: {demo_prompt}", file=out)
            await create_clip(
                demo_prompt,
                pool=pool,
                store=store,
                media=media,
                backend=settings.backend,
                public_url=public_url,
                out=out,
                default_quality=settings.default_quality,  # as the bot and `create` read it
                capabilities=setup.first_clip if setup is not None else None,
            )
            if settings.backend == "tiny":
                print(TINY_NOTE, file=out)
        if exit_after_demo:
            return 0
        print("running; press Ctrl-C to stop", file=out)
        await wait_for_stop_signal()
    return 0


TINY_NOTE = (
    "note:    the built-in tiny model makes moving noise by design: it proves every part works "
    "without downloading anything. For real clips: `reelbot models pull ltx`, then "
    "`REELBOT_BACKEND=ltx ./dev up` (a GPU renders in seconds); without a GPU, "
    "`./dev up --model animatediff` makes a small real clip in about 12 min on 2 CPU cores"
)
"""Said beside the first clip, so a newcomer doesn't take the noise for a fault."""


async def wait_for_stop_signal() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
