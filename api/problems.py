"""Every error the API answers is an RFC 9457 problem (`application/problem+json`).

Handlers raise `Problem` (or let a `core.errors.UserFacingError` through: its words are the
ones the bot says in Discord, mapped here to a status); `problem_middleware` writes the body.
Anything else is a 500 that says "Something went wrong (ref …)" with the ref in the log, never
the exception's text.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Middleware

from api.httplog import NoSecrets
from core.errors import (
    ConfigError,
    ContentBlocked,
    ContentHeld,
    FlagError,
    MemberBanned,
    QueueUnavailable,
    QuotaExceeded,
    UserFacingError,
)
from core.fairshare import next_reset
from core.text import without_bidi
from intake.media.images import AttachmentError, AttachmentTooLarge

log = logging.getLogger(__name__)
log.addFilter(NoSecrets())  # a crash's text may quote what it was given (a query's parameters)

PROBLEM_JSON = "application/problem+json"
TYPE_PREFIX = "urn:reelbot:problem:"
# A member over their in-flight cap may ask again once a clip of theirs finishes: no clock
# says when, so clients are told to look again in a while rather than hammer.
IN_FLIGHT_RETRY_S = 30

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Problem(Exception):
    """A refusal with a message for people: `status`, a short `title`, the `detail` that says
    what was wrong and how to fix it, and a stable `type_suffix` clients can branch on."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str,
        type_suffix: str,
        *,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.title = title
        self.detail = detail
        self.type_suffix = type_suffix
        self.headers = dict(headers or {})
        self.extra = extra

    def body(self) -> dict[str, Any]:
        return {
            "type": TYPE_PREFIX + self.type_suffix,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            **self.extra,
        }

    def response(self) -> web.Response:
        response = web.json_response(
            _shown(self.body()), status=self.status, content_type=PROBLEM_JSON
        )
        response.headers.update(self.headers)
        return response


def _shown(data: Any) -> Any:
    """Member text without bidi controls (a prompt quoted in a flag error)."""
    if isinstance(data, str):
        return without_bidi(data)
    if isinstance(data, dict):
        return {k: _shown(v) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [_shown(v) for v in data]
    return data


def from_user_error(exc: UserFacingError, *, now: datetime | None = None) -> Problem:
    """The bot's refusal, in the bot's words, with the status a client can act on."""
    detail = str(exc)
    if isinstance(exc, FlagError):
        extra: dict[str, Any] = {"token": exc.token, "allowed": exc.allowed}
        if exc.suggestion:
            extra["suggestion"] = exc.suggestion
        return Problem(
            422, "The request's settings can't be read", detail, "invalid-settings", **extra
        )
    if isinstance(exc, QuotaExceeded):
        if exc.cap == "per_day":
            moment = now or datetime.now(UTC)
            retry = max(1, int((next_reset(moment) - moment).total_seconds()))
        else:
            retry = IN_FLIGHT_RETRY_S
        return Problem(
            429,
            "Over your limit",
            detail,
            "over-cap",
            headers={"Retry-After": str(retry)},
            cap=exc.cap,
            used=exc.used,
        )
    if isinstance(exc, MemberBanned):
        return Problem(403, "Banned", detail, "banned")
    if isinstance(exc, ContentBlocked):
        return Problem(422, "Prompt refused", detail, "content-blocked")
    if isinstance(exc, ContentHeld):
        return Problem(422, "Needs a moderator's review", detail, "needs-review")
    if isinstance(exc, QueueUnavailable):
        return Problem(503, "Queue unavailable", detail, "queue-unavailable")
    if isinstance(exc, ConfigError):
        log.error("configuration problem answered as 503: %s", detail)
        return Problem(
            503, "Not configured", "This server is misconfigured; tell its operator.", "config"
        )
    if isinstance(exc, AttachmentTooLarge):
        return Problem(413, "Upload too large", detail, "upload-too-large")
    if isinstance(exc, AttachmentError):
        return Problem(422, "Upload refused", detail, "bad-upload")
    return Problem(422, "Request refused", detail, "refused")


def http_problem(exc: web.HTTPException, max_body: int) -> Problem:
    """aiohttp's own refusals (no such route, wrong method, body too large) as problems."""
    status = exc.status
    if status == 413:
        return Problem(
            413,
            "Request body too large",
            f"The request body is larger than this API takes ({max_body:,} bytes). "
            "Send a smaller upload or fewer fields.",
            "body-too-large",
        )
    if status == 404:
        return Problem(
            404,
            "Not found",
            "There is no such route in this API. See /api/openapi.json.",
            "no-route",
        )
    if status == 405:
        allowed = exc.headers.get("Allow", "")
        return Problem(
            405,
            "Method not allowed",
            f"This route does not take {exc.reason.split()[0] if exc.reason else 'that method'}; "
            f"it takes {allowed or 'other methods'}.",
            "method-not-allowed",
            headers={"Allow": allowed} if allowed else None,
        )
    title = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Error"
    return Problem(status, title, exc.text or title, f"http-{status}")


def problem_middleware(max_body: int) -> Middleware:
    """The outermost middleware: every refusal and every crash leaves as a problem."""

    @web.middleware
    async def problems(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except Problem as exc:
            return exc.response()
        except UserFacingError as exc:
            return from_user_error(exc).response()
        except web.HTTPException as exc:
            if exc.status < 400:  # redirects and the like are answers, not problems
                raise
            return http_problem(exc, max_body).response()
        except Exception:
            ref = secrets.token_hex(4)
            log.exception("%s %s failed (ref %s)", request.method, request.path, ref)
            return Problem(
                500,
                "Internal error",
                f"Something went wrong (ref {ref}). Try again; if it keeps happening, "
                "tell the server's operator this ref.",
                "internal",
                ref=ref,
            ).response()

    return problems
