"""The gallery's HTTP edge: what is logged of each request, and requests refused before a
handler sees them.

- The access log names the path, never the query string: a query may carry what nobody should
  find in a log (an old `/admin?token=…` bookmark, a search). Paths are cut at LOGGED_PATH and
  their bidi controls spelled out (`core.text.escape_bidi`).
- A body over MAX_BODY bytes is a 413 before it is parsed.
- A URL over MAX_URL bytes is a 414 problem (JSON), one access-log line. aiohttp's parser
  itself stops at PARSER_MAX_LINE (and headers at its 8,190-byte default): it answers those
  with its own short plain-text 400, and `ParseErrorLog` makes that one warning line instead of
  a traceback per request, so nobody can flood the log by sending them. The same goes for a
  body that does not decompress, which aiohttp finds when it reads what a handler left unread.
  That line says what kind of thing was wrong, never aiohttp's message itself: it quotes the
  request line (with its query) or the header it choked on (a cookie, an Authorization).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger
from aiohttp.http_exceptions import HttpProcessingError, InvalidURLError

from core.text import escape_bidi
from gallery.webkit import problem

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
# 8 KB, what aiohttp and nginx allow a request line by default.
MAX_URL = 8192
# Above MAX_URL, so that URLs up to it reach `refuse_long_urls` and get a clear answer.
PARSER_MAX_LINE = 65536
# The only body the gallery reads is the sign-in form (a few dozen bytes); aiohttp's 1 MB
# default let anyone make it parse a megabyte of multipart parts per request.
MAX_BODY = 16 * 1024
LOGGED_PATH = 200
LOGGED_DETAIL = 160
# Where aiohttp's parse-error messages start quoting the request: a quote, a colon before the
# quoted bytes, or a path.
_QUOTE_STARTS = re.compile(r"""[:'"/?\n]""")


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


def parse_error_kind(exc: HttpProcessingError) -> str:
    """What was wrong with a request the parser refused, without a byte of the request."""
    if isinstance(exc, InvalidURLError):  # its message is the URL itself
        return "invalid URL"
    kind = _QUOTE_STARTS.split(exc.message, maxsplit=1)[0].strip(" .")
    return loggable(kind, LOGGED_DETAIL) if kind else type(exc).__name__


class ParseErrorLog(logging.LoggerAdapter[logging.Logger]):
    """The logger aiohttp's request handler writes to: a request (or body) it could not parse
    is one line (who, what kind of thing was wrong); every other error keeps its traceback.

    aiohttp logs the first unparseable request on a connection at DEBUG when its method is
    unknown (often TLS sent to the HTTP port), the rest with `exception`."""

    def _one_line(self, level: int, exc: object, args: tuple[object, ...]) -> bool:
        if isinstance(exc, web.RequestPayloadError):
            exc = exc.__cause__
        if not isinstance(exc, HttpProcessingError):
            return False
        who = args[0] if args else "a client"
        kind = parse_error_kind(exc)
        self.log(level, "refused a request from %s that HTTP cannot parse: %s", who, kind)
        return True

    def exception(self, msg: object, *args: object, **kwargs: Any) -> None:
        if not self._one_line(logging.WARNING, kwargs.get("exc_info"), args):
            super().exception(msg, *args, **kwargs)

    def debug(self, msg: object, *args: object, **kwargs: Any) -> None:
        if not self._one_line(logging.DEBUG, kwargs.get("exc_info"), args):
            super().debug(msg, *args, **kwargs)


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
