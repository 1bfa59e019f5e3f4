"""The gallery web: HTML pages, the clip files and a JSON API, served by aiohttp; its metrics
on a private port of their own.

Only public clips (done, not hidden, not deleted, not moderated) are ever shown, whatever the
route; the handlers live in `pages`, `api`, `admin` and `signin`, this module assembles and
serves them. Every database call runs in a thread (`asyncio.to_thread`) so one slow query never
stalls the event loop. Templates autoescape everything and take bidi controls out of every value
they print, since prompts and names are text anyone can type.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import jinja2
from aiohttp import hdrs, web
from markupsafe import Markup

from core.errors import ConfigError
from core.ids import GENERATION_ID_PATTERN
from core.text import without_bidi
from gallery import admin, api, edge, pages, signin
from gallery.browse import BrowseStore
from gallery.db import make_engine, migrate
from gallery.media import LocalMediaStore
from gallery.mediastore import make_media_store
from gallery.metrics import METRICS, Metrics, metrics_app
from gallery.settings import MIN_ADMIN_TOKEN, GallerySettings
from gallery.store import GalleryStore
from gallery.webkit import (
    BROWSE,
    MEDIA,
    MEMBER_PATTERN,
    PUBLIC_URL,
    STORE,
    TEMPLATES,
    PageError,
    clip_url,
    json_response,
    media_url,
    problem,
    render,
)

__all__ = ["clip_url", "create_app", "media_url", "run_gallery", "serve"]

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
TEMPLATES_DIR = HERE / "templates"
STATIC_DIR = HERE / "static"

# No inline script or style anywhere; media only from this origin.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "media-src 'self'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
# The policy with the media store's own origins (an S3 bucket, a CDN) allowed for media.
_CSP = web.AppKey("csp", str)

METRICS_PORT = "REELBOT_GALLERY_METRICS_PORT"
_STOCK_MESSAGES = {
    404: "Nothing here.",
    405: "That method is not allowed here.",
    413: f"That request body is too large: the gallery takes at most {edge.MAX_BODY // 1024} KB.",
}


def _filesize(size: int | None) -> str:
    if size is None:
        return ""
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    raise AssertionError("unreachable")


def _policy(origins: tuple[str, ...]) -> str:
    """The CSP, with img-src and media-src also allowing where the store redirects to."""
    if not origins:
        return CONTENT_SECURITY_POLICY
    extra = " ".join(origins)
    return "; ".join(
        f"{part} {extra}" if part.startswith(("img-src", "media-src")) else part
        for part in CONTENT_SECURITY_POLICY.split("; ")
    )


def _shown(value: Any) -> Any:
    """Every value a template prints, without bidi controls (Markup is built from such values)."""
    if isinstance(value, str) and not isinstance(value, Markup):
        return without_bidi(value)
    return value


def _templates() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        finalize=_shown,
    )
    env.filters["filesize"] = _filesize
    return env


def _is_api(request: web.Request) -> bool:
    return request.path.startswith("/api/")


@web.middleware
async def _errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turn refusals into a friendly page (or a JSON problem under /api), and crashes into a
    reference."""
    headers: dict[str, str] = {}
    try:
        return await handler(request)
    except PageError as exc:
        status, message, headers = exc.status, exc.message, exc.headers
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        status, message = exc.status, _STOCK_MESSAGES.get(exc.status, exc.reason)
        if hdrs.ALLOW in exc.headers:
            headers[hdrs.ALLOW] = exc.headers[hdrs.ALLOW]
    except Exception:
        ref = secrets.token_hex(3)
        path = edge.loggable(request.rel_url.raw_path, edge.LOGGED_PATH)
        log.exception("gallery request %s %s failed (ref %s)", request.method, path, ref)
        status, message = 500, f"Something went wrong (ref {ref})."
    if _is_api(request):
        response = problem(status, message, headers)
    else:
        response = render(request, "error.html", status=status, message=message, status_code=status)
        response.headers.update(headers)
    if status == 401:
        response.headers[hdrs.WWW_AUTHENTICATE] = 'Bearer realm="reelbot admin"'
    return response


async def _security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """Set on every response, files and errors included (a signal, unlike a middleware)."""
    policy = request.app.get(_CSP, CONTENT_SECURITY_POLICY)
    response.headers.setdefault("Content-Security-Policy", policy)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("X-Frame-Options", "DENY")


async def healthz(request: web.Request) -> web.Response:
    try:
        await asyncio.to_thread(request.app[STORE].ping)
    except Exception:
        log.exception("health check: database unreachable")
        return json_response({"ok": False, "database": "unreachable"}, status=503)
    return json_response({"ok": True, "database": "ok"})


def create_app(
    store: GalleryStore,
    media: LocalMediaStore,
    *,
    public_url: str,
    admin_token: str | None = None,
) -> web.Application:
    """The gallery application; the caller owns the engine and the media folder.

    `admin_token` (MIN_ADMIN_TOKEN characters or more) turns on the moderators' view at /admin;
    without it /admin is a 404. The app's metrics are `app[METRICS]`, for `metrics_app`.
    """
    if admin_token and len(admin_token) < MIN_ADMIN_TOKEN:
        raise ValueError(f"admin_token must have at least {MIN_ADMIN_TOKEN} characters")
    metrics = Metrics()
    app = web.Application(
        middlewares=[metrics.middleware, edge.refuse_long_urls, _errors],
        handler_args=edge.handler_args(),
        client_max_size=edge.MAX_BODY,
    )
    app[METRICS] = metrics
    app[STORE] = store
    app[BROWSE] = BrowseStore(store.engine)
    app[MEDIA] = media
    app[_CSP] = _policy(media.url_origins)
    app[TEMPLATES] = _templates()
    app[PUBLIC_URL] = public_url.rstrip("/")
    if admin_token:
        app[signin.ADMIN_GATE] = signin.AdminGate(admin_token)
    app.on_response_prepare.append(_security_headers)
    gid, member = f"{{id:{GENERATION_ID_PATTERN}}}", f"{{member:{MEMBER_PATTERN}}}"
    add: Any = app.router.add_get
    add("/", pages.index, name="index")
    add(f"/clips/{gid}", pages.clip_page, name="clip")
    add(f"/members/{member}", pages.member_page, name="member")
    add("/search", pages.search_page, name="search")
    add(f"/media/{gid}.{{kind:mp4|small\\.mp4|preview\\.mp4|jpg}}", pages.media_file, name="media")
    add("/admin", admin.admin_index, name="admin")
    app.router.add_post("/admin/login", signin.login, name="admin_login")
    app.router.add_post("/admin/logout", signin.logout, name="admin_logout")
    add(f"/admin/media/{gid}.mp4", admin.admin_media, name="admin_media")
    add("/healthz", healthz, name="healthz")
    add("/api/clips", api.api_clips, name="api_clips")
    add(f"/api/clips/{gid}", api.api_clip, name="api_clip")
    add(f"/api/clips/{gid}/lineage", api.api_lineage, name="api_lineage")
    add(f"/api/members/{member}", api.api_member, name="api_member")
    add("/api/search", api.api_search, name="api_search")
    add("/api/openapi.json", api.api_openapi, name="api_openapi")
    app.router.add_static("/static/", STATIC_DIR, name="static")
    return app


def make_runner(app: web.Application) -> web.AppRunner:
    """The runner `serve` uses: access-log lines without query strings (`edge`)."""
    return web.AppRunner(app, access_log=log, access_log_class=edge.PathAccessLogger)


async def _listen(
    stack: contextlib.AsyncExitStack, runner: web.AppRunner, host: str, port: int, setting: str
) -> int:
    """Serve `runner` on host:port until `stack` closes; the port it got (0: any free one).
    A port it cannot have is a ConfigError naming `setting`."""
    await runner.setup()
    stack.push_async_callback(runner.cleanup)
    try:
        await web.TCPSite(runner, host, port).start()
    except OSError as exc:
        reason = (os.strerror(exc.errno) if exc.errno else str(exc)).lower()
        raise ConfigError(
            f"{setting}: the gallery cannot listen on {host}:{port} ({reason}). Choose a free "
            "port, or stop what is using it."
        ) from None
    return int(runner.addresses[0][1])


async def serve(settings: GallerySettings) -> None:
    """Open the database and media folder from settings, migrate, and serve until cancelled;
    the metrics on their own port when REELBOT_GALLERY_METRICS_PORT is set."""
    token = settings.resolved_admin_token()  # a bad token stops here, before anything opens
    engine = make_engine(settings.resolved_database_url())
    try:
        await asyncio.to_thread(migrate, engine)
        media = make_media_store(settings)
        app = create_app(
            GalleryStore(engine),
            media,
            public_url=settings.resolved_public_url(),
            admin_token=token,
        )
        host = settings.gallery_host
        async with contextlib.AsyncExitStack() as stack:
            await _listen(
                stack, make_runner(app), host, settings.gallery_port, "REELBOT_GALLERY_PORT"
            )
            log.info("gallery serving at %s", settings.resolved_public_url())
            if settings.gallery_metrics_port is not None:
                private = web.AppRunner(metrics_app(app[METRICS], app[BROWSE]), access_log=None)
                port = await _listen(
                    stack, private, host, settings.gallery_metrics_port, METRICS_PORT
                )
                log.info("gallery metrics on http://%s:%d/metrics", host, port)
            await asyncio.Event().wait()
    finally:
        engine.dispose()


def run_gallery(settings: GallerySettings) -> None:
    """Blocking entry point for `reelbot gallery`."""
    asyncio.run(serve(settings))
