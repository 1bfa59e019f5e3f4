"""aiohttp's own log lines for the API's server, without a token or a secret in them.

aiohttp logs a request it can't parse with the exception, and its parser's message quotes the
offending header line: `Authorization: Bearer rb_…` with a stray control character, or a header
too long, would put a member's token in the operator's log. The API's server logs through
`HTTP_LOG` instead, whose filter keeps only the kind of error (never the bytes) and blanks
anything shaped like a token, a webhook secret or a bearer credential in what is left. The API
has no access log (`access_log=None` where it is served), so no header or query string is
logged for a request that parses.
"""

from __future__ import annotations

import logging
import re
import traceback

from aiohttp.http_exceptions import HttpProcessingError

SECRET = re.compile(
    r"rb_[A-Za-z0-9]+_[A-Za-z0-9_-]+"  # an API token (gallery.api_tokens)
    r"|whsec_[A-Za-z0-9+/=_-]+"  # a webhook secret
    r"|(?i:bearer)\s+[^\s'\"]+"  # any bearer credential, whatever its shape
)
REDACTED = "[redacted]"


def redact(text: str) -> str:
    return SECRET.sub(REDACTED, text)


class NoSecrets(logging.Filter):
    """Rewrites each record into a message with no secret and no raw request bytes."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            if isinstance(exc, HttpProcessingError):  # its message quotes the request's bytes
                what = exc.message.split(":", 1)[0].strip() or "unreadable request"
                message += f": {type(exc).__name__} ({exc.code}): {what}"
            else:
                message += "\n" + "".join(traceback.format_exception(exc)).rstrip()
            record.exc_info = None
            record.exc_text = None
        record.msg, record.args = redact(message), ()
        return True


HTTP_LOG = logging.getLogger("api.http")
HTTP_LOG.addFilter(NoSecrets())
