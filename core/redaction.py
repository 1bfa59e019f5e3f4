"""Secrets out of what people read: URLs and DSNs as they may appear in a message or a log line.

Operators write passwords into URLs in every shape (`redis://:pw@host`, `redis://user:pw@host`,
`redis://PASSWORD@host`, which redis-py sends as a bare AUTH, `?password=pw`, unescaped `@` or
`/` inside a password) and sometimes get the rest wrong (a port that is not a number). Parsing
such a URL to redact it can itself fail, so this works on the text: everything between the
scheme and the last `@` of the address is credentials, and so is the value of any query or
key=value parameter whose name says secret. It never raises, and it would rather hide too much.
"""

from __future__ import annotations

import re

HIDDEN = "***"
_SECRET_NAME = r"[\w.-]*?(?:pass|pwd|secret|token|key|signature|sig|credential|auth)[\w.-]*"
# `?password=…` / `&X-Amz-Signature=…` in a URL, `password=…` in a libpq DSN
_SECRET_PARAM = re.compile(rf"(?i)((?:^|[?&;\s])(?:{_SECRET_NAME})\s*=\s*)([^&;#\s]*)")
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*://)(.*)$", re.DOTALL)
_URL_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>]+")


def redact_url(url: str) -> str:
    """`url` without its password (or a lone user part, which may be one), fit to show."""
    text = str(url)
    found = _SCHEME.match(text)
    if found is None:
        return _SECRET_PARAM.sub(rf"\1{HIDDEN}", text)
    scheme, rest = found.groups()
    end = min((i for i in (rest.find(c) for c in "/?#") if i >= 0), default=len(rest))
    at = rest.rfind("@", 0, end)
    if "@" in rest[end:]:
        # An `@` after a `/`, `?` or `#`: a password with one of those in it (`:@/pw@host`
        # has an `@` before its `/` too), or an address in the query. Hide up to the last.
        at = rest.rfind("@")
    if at >= 0:
        userinfo, rest = rest[:at], rest[at + 1 :]
        user, _, password = userinfo.partition(":")
        # with no password after a colon, the user part is what the server gets as one
        shown = f"{user}:{HIDDEN}" if password else HIDDEN
        rest = f"{shown}@{rest}"
    return scheme + _SECRET_PARAM.sub(rf"\1{HIDDEN}", rest)


def redact_text(text: str) -> str:
    """`text` (an exception's message, say) with every URL in it redacted."""
    return _URL_IN_TEXT.sub(lambda m: redact_url(m.group(0)), str(text))
