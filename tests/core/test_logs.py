"""Log lines: JSON with the generation id for machines, plain text on a terminal."""

from __future__ import annotations

import io
import json
import logging
import subprocess
import sys
from collections.abc import Iterator

import pytest

from core.logs import JsonFormatter, configure_logging, log_format
from tests.harness.paths import ROOT

GID = "0123456789abcdef0123456789abcdef"


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


def record(message: str, *args: object, exc: bool = False) -> logging.LogRecord:
    exc_info = None
    if exc:
        try:
            raise RuntimeError("out of memory")
        except RuntimeError:
            exc_info = sys.exc_info()
    return logging.LogRecord("worker.tasks", logging.INFO, __file__, 1, message, args, exc_info)


def test_a_line_about_a_clip_carries_its_generation_id() -> None:
    line = json.loads(JsonFormatter().format(record("[%s] rendering %d steps", GID, 30)))
    assert line["generation_id"] == GID
    assert line["message"] == f"[{GID}] rendering 30 steps"
    assert line["level"] == "INFO" and line["logger"] == "worker.tasks"
    assert line["ts"].endswith("+00:00")


def test_a_line_about_no_clip_has_no_generation_id() -> None:
    line = json.loads(JsonFormatter().format(record("heartbeat failed [abc]", exc=True)))
    assert "generation_id" not in line
    assert "RuntimeError: out of memory" in line["exc"]


def test_json_when_not_a_terminal_plain_text_on_one(clean_root) -> None:
    pipe, terminal = io.StringIO(), Terminal()
    configure_logging(logging.INFO, stream=pipe, env={})
    logging.getLogger("worker.tasks").info("[%s] rendering", GID)
    assert json.loads(pipe.getvalue())["generation_id"] == GID

    configure_logging(logging.INFO, stream=terminal, env={})  # replaces the first handler
    logging.getLogger("worker.tasks").info("[%s] done", GID)
    assert pipe.getvalue().count("\n") == 1
    assert terminal.getvalue().rstrip().endswith(f"INFO worker.tasks: [{GID}] done")
    assert not terminal.getvalue().startswith("{")


def test_the_variable_overrides_the_terminal_check() -> None:
    assert log_format(Terminal(), {"REELBOT_LOG_FORMAT": "json"}) == "json"
    assert log_format(io.StringIO(), {"REELBOT_LOG_FORMAT": "text"}) == "text"
    with pytest.raises(ValueError, match="REELBOT_LOG_FORMAT='xml'"):
        log_format(io.StringIO(), {"REELBOT_LOG_FORMAT": "xml"})


def test_the_worker_logs_json_lines_through_the_same_setup() -> None:
    code = "; ".join(
        [
            "import logging",
            "from core.logs import configure_logging",
            "configure_logging()",
            f"logging.getLogger('worker.tasks').info('[{GID}] rendering')",
        ]
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=30
    )
    assert json.loads(result.stderr)["generation_id"] == GID
