"""Real worker processes on the test Redis, and submitting work for them.

A worker is `worker.__main__.main()` in a process of its own, with the environment, folder and
log a test gives it: forked from the preloaded `tests.harness.forkserver` when the session runs
one (about 0.5 s to a worker ready for jobs, instead of about 5 s), otherwise `python -m worker`
(outside pytest, as `bench/faults.py` runs the fault rig, or with
REELBOT_TEST_SPAWN_WORKERS=1).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

import pytest

from cli.local_redis import LocalRedis
from tests.harness.paths import ROOT
from tests.harness.waiting import eventually

FORKSERVER = "REELBOT_TEST_FORKSERVER"  # the folder of the session's running forkserver
SPAWN = "REELBOT_TEST_SPAWN_WORKERS"  # set: every worker is a fresh `python -m worker`


def reelbot_env(redis_url: str, data_dir: Path, **extra: str) -> dict[str, str]:
    """A worker's environment: the test Redis, its data folder, a fast beat and a short lease."""
    env = {
        **os.environ,
        "REELBOT_REDIS_URL": redis_url,
        "REELBOT_DATA_DIR": str(data_dir),
        "REELBOT_HEARTBEAT_S": "0.3",
        "REELBOT_LEASE_S": "2.5",
        # test_worker_faults' slow clips (200 steps at 1024x576) are 20 times the work of the
        # tiny family's largest clip, which a worker refuses by default
        "REELBOT_WORK_LIMIT": "25",
        "PYTHONUNBUFFERED": "1",
        "HF_HUB_OFFLINE": "1",
    }
    env.update(extra)
    return env


class WorkerProcess(Protocol):
    """What tests do with a worker process: `subprocess.Popen`'s pid, poll, wait and kill."""

    pid: int

    def poll(self) -> int | None: ...

    def wait(self, timeout: float | None = None) -> int: ...

    def kill(self) -> None: ...


class ForkedWorker:
    """A worker the forkserver forked (a child of that process, not of this one): its exit
    status is the file the forkserver writes when it reaps it."""

    def __init__(self, pid: int, status: Path) -> None:
        self.pid = pid
        self.returncode: int | None = None
        self._status = status

    def poll(self) -> int | None:
        if self.returncode is None and self._status.exists():
            self.returncode = int(self._status.read_text())
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while (code := self.poll()) is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(f"worker {self.pid}", timeout or 0)
            time.sleep(0.01)
        return code

    def send_signal(self, sig: int) -> None:
        if self.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, sig)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


class Forkserver:
    """The session's `tests.harness.forkserver` process and the folder it listens in."""

    def __init__(self) -> None:
        # a short path of its own: a Unix socket's path must stay under 108 bytes
        self.folder = Path(tempfile.mkdtemp(prefix="reelbot-forkserver-"))
        self.log = self.folder / "forkserver.log"
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-u", "-m", "tests.harness.forkserver", str(self.folder)],
                stdin=subprocess.PIPE,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=ROOT,
            )

    def stop(self) -> None:
        """Close its stdin (it kills its workers and exits), then remove its folder."""
        assert self.process.stdin is not None
        self.process.stdin.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        shutil.rmtree(self.folder, ignore_errors=True)


def fork_worker(folder: Path, env: dict[str, str], log: Path, timeout: float = 180) -> ForkedWorker:
    """Ask the forkserver in `folder` for a worker; waits while it is still importing."""
    request = json.dumps({"env": env, "cwd": str(ROOT), "log": str(log)}).encode() + b"\n"
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
                client.connect(str(folder / "forkserver.sock"))
                client.sendall(request)
                with client.makefile("rb") as answer:
                    pid = json.loads(answer.readline())["pid"]
            return ForkedWorker(pid, folder / "status" / str(pid))
        except (FileNotFoundError, ConnectionRefusedError):
            if (folder / "failed").exists():
                failed = (folder / "failed").read_text()
                raise RuntimeError(f"the forkserver could not import:\n{failed}") from None
            if time.monotonic() > deadline:
                log_text = (folder / "forkserver.log").read_text(errors="replace")
                raise RuntimeError(f"no forkserver in {folder}:\n{log_text[-4000:]}") from None
            time.sleep(0.05)


class WorkerProcesses:
    """Real worker processes for one data folder, killed at the end of the test."""

    def __init__(self, env: dict[str, str], log_dir: Path) -> None:
        self.env = env
        self.log_dir = log_dir
        self.processes: list[WorkerProcess] = []

    @property
    def data_dir(self) -> Path:
        """The data folder (database, media) the workers write to."""
        return Path(self.env["REELBOT_DATA_DIR"])

    def start(self, *, spawn: bool = False) -> WorkerProcess:
        """One more worker: forked when the session has a forkserver, unless `spawn`."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        path = self.log_dir / f"worker-{len(self.processes)}.log"
        forkserver = os.environ.get(FORKSERVER)
        proc: WorkerProcess
        if forkserver and not spawn:
            proc = fork_worker(Path(forkserver), self.env, path)
        else:
            with path.open("wb") as log:
                proc = subprocess.Popen(
                    [sys.executable, "-m", "worker"],
                    env=self.env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    cwd=ROOT,
                )
        self.processes.append(proc)
        return proc

    def logs(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in sorted(self.log_dir.glob("*.log")))

    def stop_all(self) -> None:
        for proc in self.processes:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


@pytest.fixture(scope="session", autouse=True)
def forkserver(request: pytest.FixtureRequest) -> Iterator[Path | None]:
    """A preloaded parent for the session's workers, when it runs any test that starts them
    (those are marked slow); workers find it through the environment."""
    slow = any(item.get_closest_marker("slow") for item in request.session.items)
    if not slow or os.environ.get(SPAWN):
        yield None
        return
    server = Forkserver()
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv(FORKSERVER, str(server.folder))
            yield server.folder
    finally:
        server.stop()


@pytest.fixture
def workers(redis_server: LocalRedis, data_dir: Path) -> Iterator[WorkerProcesses]:
    """Worker processes for this test's data folder; none runs until the test starts one."""
    procs = WorkerProcesses(reelbot_env(redis_server.url, data_dir), data_dir.parent / "logs")
    yield procs
    procs.stop_all()


@pytest.fixture(scope="module")
def module_worker(
    redis_server: LocalRedis, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WorkerProcesses]:
    """One tiny-model worker, started once for a whole module whose tests neither stop nor
    configure it; they share its data folder (the module's `data_dir` returns it). Each test
    still gets a flushed Redis, and looks up only the clips it made."""
    folder = tmp_path_factory.mktemp("module-worker")
    procs = WorkerProcesses(reelbot_env(redis_server.url, folder / "data"), folder / "logs")
    procs.start()
    yield procs
    procs.stop_all()


async def submit_admitted(redis_url: str, store: object, spec: object, timeout: float = 120) -> str:
    """Submit as the terminal does and wait until the fair scheduler has handed the job to arq
    (a worker must be starting: jobs are admitted only while a worker is alive to take them)."""
    from arq.constants import job_key_prefix, result_key_prefix

    from intake.submit import admitting_submitter, connect_queue

    pool = await connect_queue(redis_url)
    try:
        async with admitting_submitter(pool, store) as submitter:  # type: ignore[arg-type]
            gid = (await submitter.submit(spec, unlimited=True)).generation_id  # type: ignore[arg-type]
            keys = (job_key_prefix + gid, result_key_prefix + gid)
            await eventually(lambda: pool.exists(*keys), timeout=timeout)
        return gid
    finally:
        await pool.aclose()
