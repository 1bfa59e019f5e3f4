"""How every reelbot process logs: JSON lines for machines, plain text for people.

JSON (one object a line: ts, level, logger, message, and generation_id inside a clip's context)
when stderr is not a terminal, or when REELBOT_LOG_FORMAT=json; plain text otherwise, or when
REELBOT_LOG_FORMAT=text ("... worker.render [<generation id>]: ..." inside a clip's context).

The id comes from a `ContextVar`, set with `generation_context(gid)` where a clip is worked on
(the worker's tasks, the bot's delivery and progress), never from the message text. Context
variables follow into `asyncio.to_thread` threads and into tasks created inside the context, so
every line logged on the clip's behalf carries its id, whoever logs it. A loop that serves many
clips (a heartbeat, a reconciler) names the clip of a line with `extra={"generation_id": gid}`.
`configure_logging` installs the filter that copies the current id onto each record.

Both formats write bidi controls as `\u202e` (`core.text.escape_bidi`): a prompt or a name in a
line must not reorder the rest of it on an operator's screen, and JSON reads the escape back.

Imports nothing from bot and no torch: the worker and the bot both configure logging here.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Literal, TextIO

from core.text import escape_bidi

LogFormat = Literal["json", "text"]
FORMAT_VARIABLE = "REELBOT_LOG_FORMAT"
PLAIN_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
PLAIN_FORMAT_WITH_ID = "%(asctime)s %(levelname)s %(name)s [%(generation_id)s]: %(message)s"

# The clip the current task or thread works on; None outside any clip.
generation_id: ContextVar[str | None] = ContextVar("generation_id", default=None)


@contextmanager
def generation_context(gid: str | None) -> Iterator[None]:
    """Every line logged inside carries `gid` (None: none), then the id before it is back.

    Inside, `generation_id.set(...)` names the clip later (once a record is parsed, say); the
    id still goes back to what it was when the block ends.
    """
    token = generation_id.set(gid)
    try:
        yield
    finally:
        generation_id.reset(token)


class GenerationIdFilter(logging.Filter):
    """Puts the current generation id on each record as `record.generation_id` (None if none).

    An id passed explicitly (`extra={"generation_id": ...}`) is kept.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "generation_id", None) is None:
            record.generation_id = generation_id.get()
        return True


def record_generation_id(record: logging.LogRecord) -> str | None:
    """The id `GenerationIdFilter` (or the caller's `extra`) put on the record, if any."""
    gid = getattr(record, "generation_id", None)
    return str(gid) if gid else None


class JsonFormatter(logging.Formatter):
    """One JSON object per record; `generation_id` from the record only."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if (gid := record_generation_id(record)) is not None:
            line["generation_id"] = gid
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return escape_bidi(json.dumps(line, ensure_ascii=False, default=str))


class TextFormatter(logging.Formatter):
    """`PLAIN_FORMAT`, with the generation id after the logger's name when the record has one."""

    def __init__(self) -> None:
        super().__init__(PLAIN_FORMAT)
        self._with_id = logging.Formatter(PLAIN_FORMAT_WITH_ID)

    def format(self, record: logging.LogRecord) -> str:
        if record_generation_id(record) is not None:
            return escape_bidi(self._with_id.format(record))
        return escape_bidi(super().format(record))


def log_format(stream: TextIO, env: Mapping[str, str] | None = None) -> LogFormat:
    """The format for `stream`: REELBOT_LOG_FORMAT if set, else text on a terminal, else JSON."""
    value = (os.environ if env is None else env).get(FORMAT_VARIABLE, "").strip().lower()
    if value in ("json", "text"):
        return "json" if value == "json" else "text"
    if value:
        raise ValueError(f"{FORMAT_VARIABLE}={value!r}: expected 'json' or 'text'")
    isatty = getattr(stream, "isatty", None)
    return "text" if isatty is not None and isatty() else "json"


def make_handler(stream: TextIO, fmt: LogFormat) -> logging.Handler:
    """A handler for `stream` in format `fmt` that puts the generation id on every record."""
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.addFilter(GenerationIdFilter())
    return handler


def configure_logging(
    level: int | str = logging.INFO,
    *,
    stream: TextIO | None = None,
    env: Mapping[str, str] | None = None,
) -> logging.Handler:
    """Send the root logger's records to stderr (or `stream`) in the chosen format.

    Calling it again replaces the handler it installed before and leaves any other alone.
    A bad REELBOT_LOG_FORMAT is a ValueError naming it.
    """
    target = sys.stderr if stream is None else stream
    handler = make_handler(target, log_format(target, env))
    handler._reelbot = True  # type: ignore[attr-defined]
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "_reelbot", False)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    return handler
