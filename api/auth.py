"""Who is asking: a member's token (`Authorization: Bearer rb_…`) on every route but the few
public ones, and whether that member may ask at all.

A missing, malformed, unknown or revoked token is a 401; a token whose member is banned in the
token's guild is a 403, in the words the bot uses (`intake.screening`). Both are read through
caches that keep an answer for a second (`api.tokencache`, `api.context.FRESH_S`), so a
revocation or a ban written anywhere stops a member's tokens within a second. The token (never
its text) is put on the request as `request["token"]`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from api.context import context_of
from api.problems import Problem
from gallery.api_tokens import scopes_of
from gallery.apitables import ApiToken
from intake.screening import when_utc

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
TOKEN = web.RequestKey("token", ApiToken)
# Routes anyone may read: the document that describes the API, and its health.
PUBLIC_PATHS = frozenset({"/api/openapi.json", "/v1/openapi.json", "/healthz"})
CHALLENGE = {"WWW-Authenticate": 'Bearer realm="reelbot"'}


def unauthorized(detail: str) -> Problem:
    return Problem(401, "Unauthorized", detail, "unauthorized", headers=CHALLENGE)


def bearer(request: web.Request) -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, credentials = header.partition(" ")
    if not header:
        raise unauthorized(
            "This route needs a token: send `Authorization: Bearer rb_…`. Make one with "
            "`/api token` in Discord or `reelbot token create`."
        )
    if scheme.lower() != "bearer" or not credentials.strip():
        raise unauthorized("Send the token as `Authorization: Bearer rb_…`.")
    return credentials.strip()


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path in PUBLIC_PATHS:
        return await handler(request)
    ctx = context_of(request)
    token = await ctx.verified_tokens.verify(bearer(request))
    if token is None:
        raise unauthorized(
            "This token is not valid: it was revoked, mistyped or never existed. "
            "Check it, or make a new one with `/api token`."
        )
    ban = await ctx.bans.active(token.member_id, token.guild_id)
    if ban is not None:
        why = f" ({ban.reason})" if ban.reason else ""
        raise Problem(
            403,
            "Banned",
            f"A moderator has stopped you making clips here {when_utc(ban.until)}{why}.",
            "banned",
        )
    request[TOKEN] = token
    return await handler(request)


def token_of(request: web.Request) -> ApiToken:
    return request[TOKEN]


def require_scope(request: web.Request, scope: str) -> ApiToken:
    """The request's token, or a 403 naming the scope it lacks and how to get one with it."""
    token = token_of(request)
    if scope not in scopes_of(token):
        have = ", ".join(f"`{s}`" for s in scopes_of(token)) or "none"
        raise Problem(
            403,
            "Missing scope",
            f"This token can't do that: it needs the `{scope}` scope (it has {have}). Make a "
            f"token with it: `/api token name:… scopes:{scope}`.",
            "missing-scope",
            scope=scope,
        )
    return token
