"""The gallery's HTTP edge: what is logged of each request, and requests refused before a
handler sees them.

- The access log names the path, never the query string: a query may carry what nobody should
  find in a log (an old `/admin?token=…` bookmark, a search). Paths are cut at LOGGED_PATH and
  their bidi controls spelled out (`core.text.escape_bidi`).
- A URL over MAX_URL bytes is a 414 problem (JSON), one access-log line. aiohttp's parser
  itself stops at PARSER_MAX_LINE (and headers at its 8,190-byte default): it answers those
  with its own short plain-text 400, and `ParseErrorLog` makes that one warning line instead of
  a traceback per request, so nobody can flood the log by sending them.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger
from aiohttp.http_exceptions import HttpProcessingError

from core.text import escape_bidi
from gallery.webkit import problem

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
# 8 KB, what aiohttp and nginx allow a request line by default.
MAX_URL = 8192
# Above MAX_URL, so that URLs up to it reach `refuse_long_urls` and get a clear answer.
PARSER_MAX_LINE = 65536
LOGGED_PATH = 200
LOGGED_DETAIL = 160


def loggable(text: str, limit: int) -> str:
    """User text fit for one log line: bidi controls and line breaks spelled out, cut short."""
    text = escape_bidi(text).replace("\r", "\\r").replace("\n", "\\n")
    return text if len(text) <= limit else text[:limit] + "…"


class PathAccessLogger(AbstractAccessLogger):
    """One line a request: address, method, path without its query, status, size, seconds."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        self.logger.info(
            '%s "%s %s" %s %s %.3fs',
            request.remote,
            request.method,
            loggable(request.rel_url.raw_path, LOGGED_PATH),
            response.status,
            response.body_length,
            time,
        )


class ParseErrorLog(logging.LoggerAdapter[logging.Logger]):
    """The logger aiohttp's request handler writes to: a request it could not parse is one
    warning line (who, what was wrong); every other error keeps its traceback."""

    def exception(self, msg: object, *args: object, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info")
        if isinstance(exc, HttpProcessingError):
            who = args[0] if args else "a client"
            detail = loggable(str(exc.message), LOGGED_DETAIL)
            self.warning("refused a request from %s that HTTP cannot parse: %s", who, detail)
            return
        super().exception(msg, *args, **kwargs)


def handler_args() -> dict[str, Any]:
    """aiohttp's request-handler options for the gallery app (`Application(handler_args=…)`)."""
    return {"max_line_size": PARSER_MAX_LINE, "logger": ParseErrorLog(log, {})}


@web.middleware
async def refuse_long_urls(request: web.Request, handler: Handler) -> web.StreamResponse:
    if len(request.raw_path) > MAX_URL:
        return problem(
            414,
            f"That URL is longer than {MAX_URL} bytes. Shorten the search, or start again from "
            "the first page.",
        )
    return await handler(request)
