"""How every reelbot process logs: JSON lines for machines, plain text for people.

JSON (one object a line: ts, level, logger, message, and generation_id when the message names
one) when stderr is not a terminal, or when REELBOT_LOG_FORMAT=json; plain text otherwise, or
when REELBOT_LOG_FORMAT=text. Worker and delivery lines start with "[<generation id>]", so the
id is lifted out of the message into its own field without touching the call sites.

Imports nothing from bot and no torch: the worker and the bot both configure logging here.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Literal, TextIO

from core.ids import GENERATION_ID_PATTERN

LogFormat = Literal["json", "text"]
FORMAT_VARIABLE = "REELBOT_LOG_FORMAT"
PLAIN_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_ID_TAG = re.compile(rf"\[({GENERATION_ID_PATTERN})\]")  # "[<gid>]" in a message


class JsonFormatter(logging.Formatter):
    """One JSON object per record; `generation_id` from the record or its "[<gid>]" text."""

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        line: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": message,
        }
        gid = getattr(record, "generation_id", None)
        if gid is None and (found := _ID_TAG.search(message)):
            gid = found.group(1)
        if gid is not None:
            line["generation_id"] = str(gid)
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return json.dumps(line, ensure_ascii=False, default=str)


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
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(PLAIN_FORMAT))
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
