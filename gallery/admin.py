"""The moderators' view: clips kept from the public (held, hidden, removed, hidden by their
maker, deleted) and the audit log of every moderation action (`/admin?view=audit`), behind the
configured admin token.

No token configured: every /admin route answers 404, as if it did not exist. Otherwise a request
needs `Authorization: Bearer <token>`, or the session cookie that `/admin?token=<token>` sets
(HttpOnly, SameSite=Strict, no-store) before redirecting to a URL without the token. The cookie
holds an HMAC of the token, not the token; all comparisons are constant-time.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from urllib.parse import urlencode

from aiohttp import hdrs, web

from gallery.browse import ADMIN_STATES
from gallery.moderation import ModerationStore
from gallery.pages import file_response
from gallery.paging import InvalidCursor
from gallery.webkit import (
    ADMIN_TOKEN,
    BROWSE,
    NOT_FOUND,
    PUBLIC_URL,
    STORE,
    PageError,
    bad_cursor,
    cursor_of,
    member_path,
    render,
)

COOKIE = "reelbot_admin"
NO_STORE = "no-store"
VIEWS = ("clips", "audit")


def session_value(token: str) -> str:
    return hmac.new(token.encode(), b"reelbot admin session", hashlib.sha256).hexdigest()


def _authorised(request: web.Request, token: str) -> bool:
    header = request.headers.get(hdrs.AUTHORIZATION, "")
    scheme, _, given = header.partition(" ")
    if scheme.lower() == "bearer" and hmac.compare_digest(given.encode(), token.encode()):
        return True
    cookie = request.cookies.get(COOKIE, "")
    return hmac.compare_digest(cookie.encode(), session_value(token).encode())


def _require_admin(request: web.Request) -> str | web.Response:
    """The token when the request may see the admin view, or a response that ends it here."""
    token = request.app[ADMIN_TOKEN]
    if not token:
        raise PageError(404, "Nothing here.")
    login = request.query.get("token")
    if login is not None:
        if not hmac.compare_digest(login.encode(), token.encode()):
            raise PageError(403, "That admin token is not right.")
        query = {k: v for k, v in request.query.items() if k != "token"}
        target = request.path + (f"?{urlencode(query)}" if query else "")
        response = web.Response(status=303, headers={hdrs.LOCATION: target})
        response.set_cookie(
            COOKIE,
            session_value(token),
            path="/admin",
            httponly=True,
            samesite="Strict",
            secure=request.app[PUBLIC_URL].startswith("https://"),
        )
        response.headers[hdrs.CACHE_CONTROL] = NO_STORE
        return response
    if not _authorised(request, token):
        raise PageError(401, "Moderators only: sign in with the admin token.")
    return token


async def admin_index(request: web.Request) -> web.StreamResponse:
    gate = _require_admin(request)
    if isinstance(gate, web.Response):
        return gate
    view = request.query.get("view", "clips")
    if view not in VIEWS:
        raise PageError(400, f"view must be one of: {', '.join(VIEWS)}.")
    if view == "audit":
        return await _audit(request)
    state = request.query.get("state", "held")
    if state not in ADMIN_STATES:
        raise PageError(400, f"state must be one of: {', '.join(ADMIN_STATES)}.")
    try:
        page = await asyncio.to_thread(
            request.app[BROWSE].moderation_list, state, cursor=cursor_of(request)
        )
    except InvalidCursor as exc:
        raise bad_cursor(exc) from exc
    response = render(
        request,
        "admin.html",
        page=page,
        view=view,
        state=state,
        states=ADMIN_STATES,
        member_path=member_path,
    )
    response.headers[hdrs.CACHE_CONTROL] = NO_STORE
    return response


async def _audit(request: web.Request) -> web.StreamResponse:
    """The audit log, newest first, 50 actions a page; the cursor is the id to continue below."""
    cursor = cursor_of(request)
    if cursor is not None and not (cursor.isdigit() and len(cursor) <= 19):
        raise bad_cursor(InvalidCursor(cursor))
    store = ModerationStore(request.app[STORE].engine)
    audit = await asyncio.to_thread(store.audit_page, before=int(cursor) if cursor else None)
    response = render(
        request, "admin.html", view="audit", audit=audit, state=None, states=ADMIN_STATES
    )
    response.headers[hdrs.CACHE_CONTROL] = NO_STORE
    return response


async def admin_media(request: web.Request) -> web.StreamResponse:
    """Any clip's file, public or not, for moderators to watch before they decide."""
    gate = _require_admin(request)
    if isinstance(gate, web.Response):
        return gate
    clip = await asyncio.to_thread(request.app[STORE].get, request.match_info["id"])
    if clip is None:
        raise PageError(404, NOT_FOUND)
    return await file_response(request, clip, "mp4", cache="private, no-store")
