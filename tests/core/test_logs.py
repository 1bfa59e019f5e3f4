"""Log lines: JSON with the generation id for machines, plain text on a terminal.

The id comes from the context a clip is worked on in (`generation_context`), never from the text.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import subprocess
import sys
import threading
from collections.abc import Iterator

import pytest

from core.logs import (
    JsonFormatter,
    configure_logging,
    generation_context,
    generation_id,
    log_format,
)
from core.text import BIDI_CONTROLS
from tests.harness.paths import ROOT

GID = "0123456789abcdef0123456789abcdef"
OTHER = "fedcba9876543210fedcba9876543210"
log = logging.getLogger("worker.render")


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def clean_root() -> Iterator[logging.Logger]:
    """The root logger as it was, whatever the test installs on it."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield root
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture
def pipe(clean_root: logging.Logger) -> io.StringIO:
    """Where the JSON lines of this test go (not a terminal: JSON)."""
    stream = io.StringIO()
    configure_logging(logging.INFO, stream=stream, env={})
    return stream


def lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def record(message: str, *args: object, exc: bool = False) -> logging.LogRecord:
    exc_info = None
    if exc:
        try:
            raise RuntimeError("out of memory")
        except RuntimeError:
            exc_info = sys.exc_info()
    return logging.LogRecord("worker.render", logging.INFO, __file__, 1, message, args, exc_info)


def test_the_formatter_writes_the_id_the_record_carries() -> None:
    line_record = record("rendering %d steps", 30)
    line_record.generation_id = GID
    line = json.loads(JsonFormatter().format(line_record))
    assert line["generation_id"] == GID
    assert line["message"] == "rendering 30 steps"
    assert line["level"] == "INFO" and line["logger"] == "worker.render"
    assert line["ts"].endswith("+00:00")


def test_an_id_in_the_text_is_not_read_as_the_lines_id() -> None:
    line = json.loads(JsonFormatter().format(record("[%s] rendering", GID, exc=True)))
    assert "generation_id" not in line
    assert "RuntimeError: out of memory" in line["exc"]


def test_a_line_logged_inside_a_clips_context_carries_its_id(pipe: io.StringIO) -> None:
    with generation_context(GID):
        log.info("rendering %d steps", 30)
        with generation_context(OTHER):  # a nested clip, then back to the first
            log.info("scanned")
        log.info("encoded")
    log.info("worker ready")
    inside, nested, after, outside = lines(pipe)
    assert inside["generation_id"] == GID and inside["message"] == "rendering 30 steps"
    assert nested["generation_id"] == OTHER
    assert after["generation_id"] == GID
    assert "generation_id" not in outside
    assert generation_id.get() is None


def test_the_id_can_be_named_later_in_the_context_and_still_goes(pipe: io.StringIO) -> None:
    with generation_context(None):
        log.info("reading a record")
        generation_id.set(GID)
        log.info("delivering")
    log.info("next record")
    before, named, after = lines(pipe)
    assert "generation_id" not in before and "generation_id" not in after
    assert named["generation_id"] == GID


def test_a_loop_over_many_clips_names_each_lines_clip_itself(pipe: io.StringIO) -> None:
    """A heartbeat or reconcile loop serves no one clip: it passes the id with the line."""
    with generation_context(OTHER):
        log.warning("lease lost", extra={"generation_id": GID})
    log.info("queued again", extra={"generation_id": GID})
    assert [line["generation_id"] for line in lines(pipe)] == [GID, GID]


async def test_a_thread_started_inside_the_context_carries_the_id(pipe: io.StringIO) -> None:
    """The worker renders in `asyncio.to_thread` and publishes progress from that thread with
    `run_coroutine_threadsafe`: both carry the clip's id; a thread started by hand does not."""
    loop = asyncio.get_running_loop()

    async def publish() -> None:
        log.info("progress published")

    def render() -> None:
        log.info("denoising")
        asyncio.run_coroutine_threadsafe(publish(), loop).result(timeout=10)

    with generation_context(GID):
        await asyncio.to_thread(render)
        task = asyncio.create_task(publish())
    await task
    plain = threading.Thread(target=log.info, args=("a thread of its own",))
    plain.start()
    plain.join()
    denoising, from_thread, from_task, own = lines(pipe)
    assert denoising["message"] == "denoising" and denoising["generation_id"] == GID
    assert from_thread["generation_id"] == GID
    assert from_task["generation_id"] == GID
    assert "generation_id" not in own


def test_json_when_not_a_terminal_plain_text_on_one(clean_root) -> None:
    pipe, terminal = io.StringIO(), Terminal()
    configure_logging(logging.INFO, stream=pipe, env={})
    with generation_context(GID):
        log.info("rendering")
    assert json.loads(pipe.getvalue())["generation_id"] == GID

    configure_logging(logging.INFO, stream=terminal, env={})  # replaces the first handler
    with generation_context(GID):
        log.info("done")
    log.info("worker ready")
    assert pipe.getvalue().count("\n") == 1
    done, ready = terminal.getvalue().splitlines()
    assert done.endswith(f"INFO worker.render [{GID}]: done")
    assert ready.endswith("INFO worker.render: worker ready")
    assert not terminal.getvalue().startswith("{")


def test_bidi_controls_in_a_line_are_spelled_out_in_both_formats(clean_root) -> None:
    pipe, terminal = io.StringIO(), Terminal()
    configure_logging(logging.INFO, stream=pipe, env={})
    log.info("refused %r from %s", "clip\u202e4pm.exe", "\u2067eve\u2069")
    configure_logging(logging.INFO, stream=terminal, env={})
    log.info("prompt: %s", "a fox \u202eright")
    assert not BIDI_CONTROLS & set(pipe.getvalue() + terminal.getvalue())
    assert lines(pipe)[0]["message"] == "refused 'clip\\u202e4pm.exe' from \u2067eve\u2069"
    assert terminal.getvalue().rstrip().endswith("prompt: a fox \\u202eright")


def test_the_variable_overrides_the_terminal_check() -> None:
    assert log_format(Terminal(), {"REELBOT_LOG_FORMAT": "json"}) == "json"
    assert log_format(io.StringIO(), {"REELBOT_LOG_FORMAT": "text"}) == "text"
    with pytest.raises(ValueError, match="REELBOT_LOG_FORMAT='xml'"):
        log_format(io.StringIO(), {"REELBOT_LOG_FORMAT": "xml"})


def test_the_worker_logs_json_lines_through_the_same_setup() -> None:
    code = "; ".join(
        [
            "import logging",
            "from core.logs import configure_logging, generation_context",
            "configure_logging()",
            f"ctx = generation_context('{GID}')",
            "ctx.__enter__()",
            "logging.getLogger('worker.render').info('rendering')",
        ]
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=30
    )
    assert json.loads(result.stderr)["generation_id"] == GID
