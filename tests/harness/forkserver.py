"""A parent for test workers that has already imported what `python -m worker` imports.

A worker process spends about 5 s of its start-up importing torch, diffusers and transformers
(building a tiny pipeline itself takes hundredths of a second once they are imported). The
suite starts about a hundred workers, so this process pays the imports once and forks each
worker from there: the child sets the worker's environment, folder and log, then runs
`worker.__main__.main()`, the very function `python -m worker` runs. Nothing is rendered here
and no torch operation runs before a fork (a used OpenMP pool does not survive one).

Run as `python -m tests.harness.forkserver FOLDER` (tests/harness/workers.py does): it listens
on FOLDER/forkserver.sock for one JSON request per connection, `{"env": {...}, "cwd": "...",
"log": "..."}`, answers `{"pid": N}`, reaps its children and writes each one's exit status to
FOLDER/status/N (as `Popen.returncode` reads: negative for a signal). It exits, killing its
children and removing FOLDER, when its stdin closes: when the test session that started it ends
or dies. If the imports fail, FOLDER/failed holds the traceback.
"""

from __future__ import annotations

import ast
import atexit
import importlib
import inspect
import json
import os
import selectors
import shutil
import signal
import socket
import sys
import time
import traceback
from pathlib import Path
from typing import Any

LIBRARIES = ("torch", "diffusers", "transformers", "tokenizers")


def library_imports(module: Any) -> dict[str, set[str]]:
    """The names a backend module imports from the model libraries, inside functions too
    (that is where the backends import them): module path -> names."""
    found: dict[str, set[str]] = {}
    for node in ast.walk(ast.parse(inspect.getsource(module))):
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module.split(".")[0] in LIBRARIES:
                found.setdefault(node.module, set()).update(a.name for a in node.names)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in LIBRARIES:
                    found.setdefault(alias.name, set())
    return found


def preload() -> None:
    """Import what a worker imports before it takes a job, for every built-in model family."""
    import arq.worker  # noqa: F401
    import diffusers.utils.logging  # noqa: F401
    import transformers.utils.logging  # noqa: F401

    import worker.__main__
    import worker.tasks  # noqa: F401
    from worker.backends import BACKENDS

    for path in BACKENDS.values():
        for name, attributes in library_imports(importlib.import_module(path)).items():
            imported = importlib.import_module(name)
            for attribute in attributes:
                getattr(imported, attribute)  # diffusers and transformers import lazily


def run_worker(request: dict[str, Any]) -> int:
    """In the child: become `python -m worker` with the request's environment, folder and log."""
    import worker.__main__

    log = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(log)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    sys.argv = [worker.__main__.__file__]
    try:
        code: Any = worker.__main__.main()
    except SystemExit as exc:
        code = exc.code
    except BaseException:
        traceback.print_exc()
        code = 1
    atexit._run_exitfuncs()  # what the interpreter does on the way out (logging's flush)
    return code if isinstance(code, int) else (0 if code is None else 1)


def serve(folder: Path) -> None:
    status = folder / "status"
    status.mkdir(parents=True, exist_ok=True)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    address = folder / "forkserver.sock"
    address.unlink(missing_ok=True)
    listener.bind(str(address))
    listener.listen(16)
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ)
    stdin = sys.stdin.fileno()
    selector.register(stdin, selectors.EVENT_READ)
    children: set[int] = set()

    def reap() -> None:
        while children:
            try:
                pid, wait_status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            children.discard(pid)
            code = os.waitstatus_to_exitcode(wait_status)
            (status / f"{pid}.tmp").write_text(str(code))
            os.replace(status / f"{pid}.tmp", status / str(pid))

    while True:
        for key, _ in selector.select(timeout=0.02):
            if key.fd == stdin:
                if not os.read(stdin, 4096):  # the test session is gone
                    for pid in children:
                        os.kill(pid, signal.SIGKILL)
                    shutil.rmtree(folder, ignore_errors=True)  # even if it could not say so
                    return
                continue
            connection, _ = listener.accept()
            with connection, connection.makefile("rb") as stream:
                request = json.loads(stream.readline())
                sys.stdout.flush()
                pid = os.fork()
                if pid == 0:
                    code = 1
                    try:
                        selector.close()
                        listener.close()
                        connection.close()
                        code = run_worker(request)
                    finally:
                        os._exit(code)
                (status / str(pid)).unlink(missing_ok=True)  # a pid used before, long ago
                children.add(pid)
                connection.sendall(json.dumps({"pid": pid}).encode() + b"\n")
        reap()


def main() -> int:
    folder = Path(sys.argv[1])
    started = time.perf_counter()
    try:
        preload()
    except BaseException:  # say so at once, rather than leave workers waiting for a socket
        (folder / "failed").write_text(traceback.format_exc())
        raise
    print(f"forkserver: preloaded in {time.perf_counter() - started:.1f} s", flush=True)
    serve(folder)
    return 0


if __name__ == "__main__":
    sys.exit(main())
