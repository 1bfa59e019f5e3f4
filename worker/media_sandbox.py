"""Untrusted media decoded in a child process whose limits the file can't lift.

`worker.media_decode` keeps a decode to its budget in frames and pixels; a decoder can still
spend memory or time of its own (reference frames, threads, a crafted stream). So every upload a
worker reads, and every file `reelbot verify` and `reelbot scan` read, is decoded by
`python -m worker.media_sandbox` with hard limits on its address space and CPU time (soft and
hard: the child can't raise them) and killed past its wall time, or when the worker dies.
What it returns comes back as .npy data in a temporary file with no name, and one JSON line; a
child killed by a limit, or failing near its memory limit, is `OverBudget`, a child that died
otherwise is `UnreadableVideo`: the worker fails the clip with the message and never retries
it, and the CLI prints one line and exits 2. The worker itself never holds more than the
model's input.

A child costs ~0.4 s to start (Python, numpy and PyAV); renders take seconds at least.
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import json
import logging
import os
import resource
import signal
import subprocess
import sys
import tempfile
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from worker.media_budget import (
    DAMAGED,
    DEFAULT_BUDGET,
    NO_FRAMES,
    MediaBudget,
    NotAVideo,
    OverBudget,
    UnreadableMedia,
    UnreadableVideo,
    too_costly,
)
from worker.media_decode import ClipPlan, count_frames, decode_clip, decode_counted, open_video

log = logging.getLogger(__name__)

MiB = 1024 * 1024
VERIFY_BUDGET = dataclasses.replace(DEFAULT_BUDGET, max_pixels=1_000_000_000)  # ample for ours
VERIFY_FRAMES = 300  # the watermark's vote: more than our longest clip (241 frames)
_ERRORS: dict[str, type[UnreadableVideo]] = {
    cls.__name__: cls for cls in (UnreadableVideo, NotAVideo, OverBudget)
}
Arrays = dict[str, np.ndarray]
_PR_SET_PDEATHSIG = 1  # prctl(2)


# -- the parent's side ----------------------------------------------------------------------


def read_clip(path: Path, plan: ClipPlan, budget: MediaBudget = DEFAULT_BUDGET) -> np.ndarray:
    """A member's video as the model takes it (`ClipPlan`), decoded in a sandboxed child."""
    _, arrays = run("clip", path, dataclasses.asdict(plan), budget, keeps=plan.nbytes)
    return arrays["frames"]


def scan_samples(
    path: Path, samples: int, budget: MediaBudget = DEFAULT_BUDGET
) -> tuple[int, float, dict[int, np.ndarray]]:
    """(frames decoded, frame rate, the frames `sample_indices` picks by index), sandboxed."""
    result, arrays = run("scan", path, {"samples": samples}, budget, keeps=0)
    frames = {int(name.removeprefix("frame")): array for name, array in arrays.items()}
    return int(result["total"]), float(result["fps"]), frames


def read_provenance(path: Path, budget: MediaBudget = VERIFY_BUDGET) -> tuple[dict[str, str], Any]:
    """(container tags, `WatermarkReading` or None) of a file, sandboxed; MissingDependency
    where PyAV is not installed (`reelbot verify` on a bot's install)."""
    from worker.provenance import optional_import
    from worker.watermark import WatermarkReading

    optional_import("av", "PyAV (pip install av)")

    result, arrays = run("provenance", path, {}, budget, keeps=0)
    mark = result["watermark"]
    reading = None
    if mark is not None:
        reading = WatermarkReading(
            arrays["bits"], mark["confidence"], mark["frames"], arrays.get("agreement")
        )
    return result["tags"], reading


def run(
    task: str, path: Path, args: dict[str, Any], budget: MediaBudget, *, keeps: int
) -> tuple[dict[str, Any], Arrays]:
    """Run `task` on `path` in a child limited by `budget` (plus `keeps` bytes it returns).

    The arrays come back through a temporary file that has no name (the child writes it
    through an inherited descriptor), so nothing is left on disk whatever becomes of either
    process; the child dies with the process that started it."""
    with tempfile.TemporaryFile(prefix="reelbot-decode-") as out:
        request = {
            "task": task,
            "path": str(Path(path).resolve()),
            "args": args,
            "budget": dataclasses.asdict(budget),
            "keeps": keeps,
            "out": out.fileno(),
            "parent": os.getpid(),
        }
        env = os.environ | {
            "MALLOC_ARENA_MAX": "2",  # glibc reserves 64 MB of address space per thread arena
            "OPENBLAS_NUM_THREADS": "1",
            "OMP_NUM_THREADS": "1",
            "PYTHONDONTWRITEBYTECODE": "1",
        }
        try:
            done = subprocess.run(
                [sys.executable, "-m", "worker.media_sandbox"],
                input=json.dumps(request),
                capture_output=True,
                text=True,
                timeout=budget.wall_s,
                env=env,
                pass_fds=(out.fileno(),),
            )
        except subprocess.TimeoutExpired:
            log.warning("decoding %s passed %g s; the child was killed", path, budget.wall_s)
            raise too_costly(f"{budget.wall_s:g} s") from None
        reply = _reply(done, budget)
        if done.stderr.strip():
            log.warning("decoding %s: %s", Path(path).name, done.stderr[-2000:])
        if "error" in reply:
            raise _ERRORS.get(reply["error"], UnreadableVideo)(reply["reason"], reply["advice"])
        out.seek(0)
        arrays = {name: np.load(out) for name in reply["arrays"]}
        log.debug("decoded %s (%s): peak %s MB", Path(path).name, task, reply["result"]["peak_mb"])
        return reply["result"], arrays


def _reply(done: subprocess.CompletedProcess[str], budget: MediaBudget) -> dict[str, Any]:
    """The child's JSON line; a child killed by a limit or dead without one raises."""
    if done.returncode in (-signal.SIGXCPU, -signal.SIGKILL):
        log.warning("the decoding child was killed at its CPU limit (%d s)", budget.cpu_s)
        raise too_costly(f"{budget.cpu_s} s of CPU time")
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        log.error("the decoding child died (%d): %s", done.returncode, done.stderr[-2000:])
        raise UnreadableVideo(DAMAGED)
    reply: dict[str, Any] = json.loads(lines[-1])
    return reply


# -- the child's side -----------------------------------------------------------------------


def _clip(path: Path, budget: MediaBudget, **plan: Any) -> tuple[dict[str, Any], Arrays]:
    return {}, {"frames": decode_clip(path, ClipPlan(**plan), budget)}


def _scan(path: Path, budget: MediaBudget, *, samples: int) -> tuple[dict[str, Any], Arrays]:
    """Packets give the frame count first; if fewer frames decode than there are packets, the
    frames are picked again from the count that did (a report's rescan and `reelbot scan`)."""
    from worker.scan import sample_indices

    packets, fps = count_frames(path, budget)
    frames, total = decode_counted(path, sample_indices(packets, samples), budget)
    if total != packets:
        frames, total = decode_counted(path, sample_indices(total, samples), budget)
    arrays = {f"frame{index}": frame for index, frame in frames.items()}
    return {"total": total, "fps": fps}, arrays


def _provenance(path: Path, budget: MediaBudget) -> tuple[dict[str, Any], Arrays]:
    from worker.watermark import read_watermark

    with open_video(path, budget) as (container, _stream):
        tags = dict(container.metadata)
    reading = read_watermark(path, budget, frames=VERIFY_FRAMES)
    if reading is None:
        return {"tags": tags, "watermark": None}, {}
    arrays = {"bits": reading.bits}
    if reading.agreement is not None:
        arrays["agreement"] = reading.agreement
    mark = {"confidence": reading.confidence, "frames": reading.frames}
    return {"tags": tags, "watermark": mark}, arrays


TASKS: dict[str, Callable[..., tuple[dict[str, Any], Arrays]]] = {
    "clip": _clip,
    "scan": _scan,
    "provenance": _provenance,
}


def limit(budget: MediaBudget, keeps: int) -> int:
    """This process's limits, soft and hard alike so nothing in it can raise them; the
    address space it may use."""
    memory = budget.memory_bytes + 2 * keeps  # what it keeps, and the copy np.stack makes
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_CPU, (budget.cpu_s, budget.cpu_s + 1))  # SIGXCPU, KILL
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    return memory


def _peak_address_space() -> int:
    """VmPeak: the most address space this process has held (bytes)."""
    return _status("VmPeak")


def _peak_resident() -> int:
    """VmHWM: the most memory this process has had resident (bytes). Not getrusage's
    ru_maxrss: Linux carries that over from the worker across fork and exec, so a worker
    holding a model's gigabytes would read as a child that decoded gigabytes."""
    return _status("VmHWM")


def _status(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) * 1024  # kB
    return 0


def _error(exc: UnreadableMedia) -> dict[str, str]:
    return {"error": type(exc).__name__, "reason": exc.reason, "advice": exc.advice}


def _die_with(parent: int) -> None:
    """Linux: have the kernel kill this child when the process that started it dies (a worker
    killed mid-read leaves no decode running on); gone already, exit now."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:
        os._exit(1)


def _at_limit(memory: int) -> bool:
    """Whether this process got near its address-space limit: then any failure, however
    FFmpeg words it (ENOMEM, EAGAIN for a thread it could not start, "invalid data" from a
    decoder that could not get a buffer), is the limit, not a damaged file."""
    return _peak_address_space() > 0.9 * memory


def main() -> int:
    """The child: one JSON request on stdin, one JSON line on stdout, arrays written to the
    descriptor it names."""
    from worker.provenance import ProvenanceError

    request = json.loads(sys.stdin.read())
    _die_with(int(request["parent"]))
    budget = MediaBudget(**request["budget"])
    memory = limit(budget, int(request["keeps"]))
    over = too_costly(f"{budget.memory_bytes // MiB} MB of memory")
    try:
        result, arrays = TASKS[request["task"]](Path(request["path"]), budget, **request["args"])
        with os.fdopen(int(request["out"]), "wb") as out:
            for array in arrays.values():
                np.save(out, array)
        peak_mb = _peak_resident() // MiB
        reply: dict[str, Any] = {"result": result | {"peak_mb": peak_mb}, "arrays": list(arrays)}
    except (NotAVideo, OverBudget) as exc:
        reply = _error(exc)
    except UnreadableMedia as exc:  # "damaged", "no frames": or the decoder ran out of memory
        reply = _error(over if _at_limit(memory) else exc)
    except ProvenanceError:  # the watermark reader's "no frame could be decoded"
        reply = _error(over if _at_limit(memory) else UnreadableVideo(NO_FRAMES))
    except Exception as exc:
        if isinstance(exc, MemoryError) or _at_limit(memory):
            reply = _error(over)
        else:
            traceback.print_exc()  # the parent logs it
            reply = _error(UnreadableVideo(DAMAGED))
    print(json.dumps(reply), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
