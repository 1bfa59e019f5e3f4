"""The moderators' view: clips kept from the public (held, hidden, removed, hidden by their
maker, deleted) and the audit log of every moderation action (`/admin?view=audit`), behind the
configured admin token.

No token configured: every /admin route answers 404, as if it did not exist. Otherwise a request
needs `Authorization: Bearer <token>` (scripts) or the session cookie that signing in with the
form sets (people); `gallery.signin` says how. Without either, /admin shows the sign-in form.
"""

from __future__ import annotations

import asyncio

from aiohttp import hdrs, web

from gallery.browse import ADMIN_STATES
from gallery.moderation import ModerationStore
from gallery.pages import file_response
from gallery.paging import InvalidCursor, bounded
from gallery.signin import (
    COOKIE,
    NO_STORE,
    count_failure,
    gate_of,
    refuse_if_locked,
    signin_form,
)
from gallery.webkit import (
    BROWSE,
    NOT_FOUND,
    STORE,
    PageError,
    bad_cursor,
    cursor_of,
    member_path,
    render,
)

VIEWS = ("clips", "audit")
TOKEN_IN_URL = (
    "The admin token no longer goes in the URL, where logs and browser history keep it: sign in "
    "with the form at /admin (scripts: send Authorization: Bearer <token>). If you used such a "
    "link, change REELBOT_ADMIN_TOKEN."
)


def signed_in(request: web.Request) -> bool:
    """Whether the request may see the admin view; False when it brings no credentials.

    A wrong bearer token is refused here (401) and counts as a failed attempt, like a wrong
    token in the form; an expired or forged cookie just means "not signed in"."""
    gate = gate_of(request)
    if "token" in request.query:
        raise PageError(400, TOKEN_IN_URL)
    scheme, _, given = request.headers.get(hdrs.AUTHORIZATION, "").partition(" ")
    if scheme.lower() == "bearer":
        refuse_if_locked(request, gate)
        if gate.is_token(given):
            return True
        count_failure(request, gate)
        raise PageError(401, "That admin token is not right.")
    return gate.is_session(request.cookies.get(COOKIE, ""))


async def admin_index(request: web.Request) -> web.StreamResponse:
    if not signed_in(request):
        return signin_form(request)
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
    try:
        before = bounded(cursor) if cursor is not None else None
    except InvalidCursor as exc:
        raise bad_cursor(exc) from exc
    store = ModerationStore(request.app[STORE].engine)
    audit = await asyncio.to_thread(store.audit_page, before=before)
    response = render(
        request, "admin.html", view="audit", audit=audit, state=None, states=ADMIN_STATES
    )
    response.headers[hdrs.CACHE_CONTROL] = NO_STORE
    return response


async def admin_media(request: web.Request) -> web.StreamResponse:
    """Any clip's file, public or not, for moderators to watch before they decide."""
    if not signed_in(request):
        raise PageError(401, "Moderators only: sign in at /admin first.")
    clip = await asyncio.to_thread(request.app[STORE].get, request.match_info["id"])
    if clip is None:
        raise PageError(404, NOT_FOUND)
    return await file_response(request, clip, "mp4", cache="private, no-store")
