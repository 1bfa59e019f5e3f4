"""The gallery web: HTML pages, the clip files and a small JSON API, served by aiohttp.

Only public clips (done and not hidden) are ever shown, whatever the route. Every database
call runs in a thread (`asyncio.to_thread`) so one slow query never stalls the event loop, and
templates autoescape everything, since prompts are text anyone in the community can type.
"""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import jinja2
from aiohttp import hdrs, web

from gallery.db import make_engine, migrate
from gallery.media import LocalMediaStore
from gallery.models import Generation, GenerationPublic
from gallery.settings import GallerySettings
from gallery.store import MAX_PAGE_SIZE, Cursor, GalleryStore, InvalidCursor, decode_cursor
from gallery.store import encode_cursor as _encode_cursor

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
TEMPLATES_DIR = HERE / "templates"
STATIC_DIR = HERE / "static"
PAGE_SIZE = 24
ID_PATTERN = "[0-9a-f]{32}"

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
# A clip's file never changes under its id, so browsers and proxies may keep it forever.
IMMUTABLE = "public, max-age=31536000, immutable"

STORE = web.AppKey("store", GalleryStore)
MEDIA = web.AppKey("media", LocalMediaStore)
TEMPLATES = web.AppKey("templates", jinja2.Environment)
PUBLIC_URL = web.AppKey("public_url", str)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class PageError(Exception):
    """A request we refuse with a message meant for the person who made it."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


NOT_FOUND = "There is no clip here. It may be hidden, still rendering, or never existed."
_STOCK_MESSAGES = {404: "Nothing here.", 405: "That method is not allowed here."}


def clip_url(public_url: str, generation_id: str) -> str:
    """The clip page's absolute URL, as the bot links it from Discord."""
    return f"{public_url.rstrip('/')}/clips/{generation_id}"


def media_url(public_url: str, generation_id: str) -> str:
    return f"{public_url.rstrip('/')}/media/{generation_id}.mp4"


def _filesize(size: int | None) -> str:
    if size is None:
        return ""
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    raise AssertionError("unreachable")


def _templates() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["filesize"] = _filesize
    return env


def _render(request: web.Request, template: str, status: int = 200, **context: Any) -> web.Response:
    html = request.app[TEMPLATES].get_template(template).render(**context)
    return web.Response(text=html, status=status, content_type="text/html", charset="utf-8")


def _is_api(request: web.Request) -> bool:
    return request.path.startswith("/api/")


@web.middleware
async def _errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turn refusals into a friendly page (or JSON under /api), and crashes into a reference."""
    allow: str | None = None
    try:
        return await handler(request)
    except PageError as exc:
        status, message = exc.status, exc.message
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        status, message = exc.status, _STOCK_MESSAGES.get(exc.status, exc.reason)
        allow = exc.headers.get(hdrs.ALLOW)
    except Exception:
        ref = secrets.token_hex(3)
        log.exception("gallery request %s %s failed (ref %s)", request.method, request.path, ref)
        status, message = 500, f"Something went wrong (ref {ref})."
    if _is_api(request):
        response = web.json_response({"error": message}, status=status)
    else:
        response = _render(
            request, "error.html", status=status, message=message, status_code=status
        )
    if allow is not None:
        response.headers[hdrs.ALLOW] = allow
    return response


async def _security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """Set on every response, files and errors included (a signal, unlike a middleware)."""
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("X-Frame-Options", "DENY")


def _before(request: web.Request) -> Cursor | None:
    raw = request.query.get("before")
    if raw is None:
        return None
    try:
        return decode_cursor(raw)
    except InvalidCursor as exc:
        log.debug("bad cursor %r: %s", raw, exc)
        raise PageError(
            400, "That page link is not valid (it may have been cut short). Start from the top."
        ) from exc


def _limit(request: web.Request) -> int:
    raw = request.query.get("limit")
    if raw is None:
        return PAGE_SIZE
    if not re.fullmatch(r"[0-9]{1,3}", raw) or not 1 <= int(raw) <= MAX_PAGE_SIZE:
        raise PageError(400, f"limit must be a whole number from 1 to {MAX_PAGE_SIZE}.")
    return int(raw)


async def _page(
    request: web.Request, *, limit: int, before: Cursor | None
) -> tuple[list[Generation], str | None]:
    """One page of public clips and the cursor of the next one (None on the last page)."""
    rows = await asyncio.to_thread(request.app[STORE].list_public, limit=limit + 1, before=before)
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    return rows, _encode_cursor(rows[-1])


async def _public_clip(request: web.Request) -> Generation:
    generation_id = request.match_info["id"]
    clip = await asyncio.to_thread(request.app[STORE].get, generation_id)
    if clip is None or not clip.is_public:
        raise PageError(404, NOT_FOUND)
    return clip


def _public_json(request: web.Request, clip: Generation) -> dict[str, Any]:
    public = GenerationPublic.model_validate(
        clip,
        update={
            "page_url": clip_url(request.app[PUBLIC_URL], clip.id),
            "media_url": media_url(request.app[PUBLIC_URL], clip.id),
        },
    )
    return public.model_dump(mode="json")


async def index(request: web.Request) -> web.Response:
    """The newest public clips, one keyset page at a time."""
    before = _before(request)
    clips, next_cursor = await _page(request, limit=PAGE_SIZE, before=before)
    return _render(
        request, "index.html", clips=clips, next_cursor=next_cursor, paged=before is not None
    )


async def clip_page(request: web.Request) -> web.Response:
    clip = await _public_clip(request)
    public_url = request.app[PUBLIC_URL]
    return _render(
        request,
        "clip.html",
        clip=clip,
        page_url=clip_url(public_url, clip.id),
        video_url=media_url(public_url, clip.id),
    )


async def media_file(request: web.Request) -> web.StreamResponse:
    """The clip's MP4, with Range support (seeking) from aiohttp's FileResponse."""
    clip = await _public_clip(request)
    if not clip.media_path:
        raise PageError(404, NOT_FOUND)
    try:
        path = request.app[MEDIA].resolve(clip.media_path)
    except ValueError:
        log.warning("generation %s has an unusable media path %r", clip.id, clip.media_path)
        raise PageError(404, NOT_FOUND) from None
    return web.FileResponse(
        path, headers={hdrs.CONTENT_TYPE: "video/mp4", hdrs.CACHE_CONTROL: IMMUTABLE}
    )


async def api_clips(request: web.Request) -> web.Response:
    clips, next_cursor = await _page(request, limit=_limit(request), before=_before(request))
    return web.json_response(
        {"clips": [_public_json(request, clip) for clip in clips], "next": next_cursor}
    )


async def api_clip(request: web.Request) -> web.Response:
    return web.json_response(_public_json(request, await _public_clip(request)))


async def healthz(request: web.Request) -> web.Response:
    try:
        await asyncio.to_thread(request.app[STORE].ping)
    except Exception:
        log.exception("health check: database unreachable")
        return web.json_response({"ok": False, "database": "unreachable"}, status=503)
    return web.json_response({"ok": True, "database": "ok"})


def create_app(store: GalleryStore, media: LocalMediaStore, *, public_url: str) -> web.Application:
    """The gallery application; the caller owns the engine and the media folder."""
    app = web.Application(middlewares=[_errors])
    app[STORE] = store
    app[MEDIA] = media
    app[TEMPLATES] = _templates()
    app[PUBLIC_URL] = public_url.rstrip("/")
    app.on_response_prepare.append(_security_headers)
    app.router.add_get("/", index, name="index")
    app.router.add_get(f"/clips/{{id:{ID_PATTERN}}}", clip_page, name="clip")
    app.router.add_get(f"/media/{{id:{ID_PATTERN}}}.mp4", media_file, name="media")
    app.router.add_get("/api/clips", api_clips, name="api_clips")
    app.router.add_get(f"/api/clips/{{id:{ID_PATTERN}}}", api_clip, name="api_clip")
    app.router.add_get("/healthz", healthz, name="healthz")
    app.router.add_static("/static/", STATIC_DIR, name="static")
    return app


async def serve(settings: GallerySettings) -> None:
    """Open the database and media folder from settings, migrate, and serve until cancelled."""
    engine = make_engine(settings.resolved_database_url())
    try:
        await asyncio.to_thread(migrate, engine)
        media = LocalMediaStore(settings.resolved_media_dir())
        app = create_app(GalleryStore(engine), media, public_url=settings.resolved_public_url())
        runner = web.AppRunner(app, access_log=log)
        await runner.setup()
        try:
            site = web.TCPSite(runner, settings.gallery_host, settings.gallery_port)
            await site.start()
            log.info("gallery serving at %s", settings.resolved_public_url())
            await asyncio.Event().wait()
        finally:
            await runner.cleanup()
    finally:
        engine.dispose()


def run_gallery(settings: GallerySettings) -> None:
    """Blocking entry point for `reelbot gallery`."""
    asyncio.run(serve(settings))
