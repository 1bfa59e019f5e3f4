"""What the gallery's pages, API and admin view share: app keys, URLs, query parsing, JSON.

URLs are built only from generation ids (32 hex) and member ids that match MEMBER_PATH, never
from text a member typed, so nothing anyone writes can end up in a path.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from datetime import datetime
from http import HTTPStatus
from typing import Any, get_args

import jinja2
from aiohttp import web

from core.commandline import slash_command, stored_command_line
from core.spec import DEFAULT_QUALITY, Camera
from core.text import without_bidi
from gallery.browse import BrowseStore, SearchQuery
from gallery.media import LocalMediaStore
from gallery.models import Generation, GenerationPublic
from gallery.paging import InvalidCursor, Period, Sort
from gallery.store import MAX_PAGE_SIZE, GalleryStore

PAGE_SIZE = 24
# Member ids the gallery links to: a platform and an id of plain characters ("discord:1234").
MEMBER_PATTERN = "[a-z][a-z0-9_-]{0,15}:[A-Za-z0-9_.-]{1,47}"
MEMBER_PATH = re.compile(MEMBER_PATTERN)
# The camera moves a clip can be searched by: the job contract's own list.
CAMERAS: tuple[str, ...] = get_args(Camera)
_ASPECT = re.compile(r"[1-9][0-9]{0,4}:[1-9][0-9]{0,4}")
_BACKEND = re.compile(r"[a-z0-9_-]{1,32}")

STORE = web.AppKey("store", GalleryStore)
BROWSE = web.AppKey("browse", BrowseStore)
MEDIA = web.AppKey("media", LocalMediaStore)
TEMPLATES = web.AppKey("templates", jinja2.Environment)
PUBLIC_URL = web.AppKey("public_url", str)

NOT_FOUND = "There is no clip here. It may be hidden, still rendering, or never existed."


class PageError(Exception):
    """A request we refuse with a message meant for the person who made it."""

    def __init__(self, status: int, message: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = dict(headers or {})


def clip_url(public_url: str, generation_id: str) -> str:
    """The clip page's absolute URL, as the bot links it from Discord."""
    return f"{public_url.rstrip('/')}/clips/{generation_id}"


def media_url(public_url: str, generation_id: str, kind: str = "mp4") -> str:
    return f"{public_url.rstrip('/')}/media/{generation_id}.{kind}"


def member_path(member_id: str) -> str | None:
    """The member page's path, or None for an id the gallery does not put in URLs."""
    return f"/members/{member_id}" if MEMBER_PATH.fullmatch(member_id) else None


def render(request: web.Request, template: str, status: int = 200, **context: Any) -> web.Response:
    html = request.app[TEMPLATES].get_template(template).render(**context)
    return web.Response(text=html, status=status, content_type="text/html", charset="utf-8")


def shown(data: Any) -> Any:
    """JSON data with bidi controls taken out of every string (`core.text.without_bidi`)."""
    if isinstance(data, str):
        return without_bidi(data)
    if isinstance(data, dict):
        return {key: shown(value) for key, value in data.items()}
    if isinstance(data, list):
        return [shown(value) for value in data]
    return data


def json_response(data: Any, status: int = 200) -> web.Response:
    """What every JSON route answers: member text in it as `shown`."""
    return web.json_response(shown(data), status=status)


def problem(status: int, detail: str, headers: Mapping[str, str] | None = None) -> web.Response:
    """An RFC 9457 problem: type, title, status and detail, plus `error` (the detail) for
    clients older than the problem format."""
    title = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Error"
    body = {
        "type": "about:blank",
        "title": title,
        "status": status,
        "detail": detail,
        "error": detail,
    }
    response = web.json_response(
        shown(body), status=status, content_type="application/problem+json"
    )
    response.headers.update(headers or {})
    return response


# --- query parameters ---------------------------------------------------------------------


def _choice(request: web.Request, name: str, enum: Any, default: Any) -> Any:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    try:
        return enum(raw)
    except ValueError:
        allowed = ", ".join(member.value for member in enum)
        raise PageError(400, f"{name} must be one of: {allowed}.") from None


def sort_of(request: web.Request) -> Sort:
    return _choice(request, "sort", Sort, Sort.NEW)  # type: ignore[no-any-return]


def period_of(request: web.Request) -> Period:
    return _choice(request, "period", Period, Period.ALL)  # type: ignore[no-any-return]


def cursor_of(request: web.Request) -> str | None:
    """The page cursor (`before` is its name from before other orders existed)."""
    return request.query.get("cursor") or request.query.get("before") or None


def limit_of(request: web.Request) -> int:
    raw = request.query.get("limit")
    if raw is None:
        return PAGE_SIZE
    if not re.fullmatch(r"[0-9]{1,3}", raw) or not 1 <= int(raw) <= MAX_PAGE_SIZE:
        raise PageError(400, f"limit must be a whole number from 1 to {MAX_PAGE_SIZE}.")
    return int(raw)


def search_of(request: web.Request) -> SearchQuery:
    query = request.query
    text = query.get("q", "")[:300]
    camera = query.get("camera") or None
    aspect = query.get("ar") or None
    backend = query.get("model") or None
    if camera is not None and camera not in CAMERAS:
        raise PageError(400, f"camera must be one of: {', '.join(CAMERAS)}.")
    if aspect is not None and not _ASPECT.fullmatch(aspect):
        raise PageError(400, "ar must be an aspect ratio like 16:9.")
    if backend is not None and not _BACKEND.fullmatch(backend):
        raise PageError(400, "model must be a model name like tiny.")
    return SearchQuery(text=text, camera=camera, aspect_ratio=aspect, backend=backend)


BAD_CURSOR = "That page link is not valid (it may have been cut short). Start from the top."


def bad_cursor(exc: InvalidCursor) -> PageError:
    return PageError(400, BAD_CURSOR)


# --- what a clip shows --------------------------------------------------------------------


def render_seconds(clip: Generation) -> float | None:
    total = sum(value for value in clip.timings.values() if isinstance(value, int | float))
    return round(float(total), 2) if clip.timings else None


def flags_of(clip: Generation) -> dict[str, Any]:
    """Every setting the clip was made with, read from its stored spec (columns as fallback)."""
    spec: Mapping[str, Any] = clip.spec or {}
    style = spec.get("style")
    return {
        "motion": clip.motion,
        "camera": clip.camera,
        "aspect_ratio": clip.aspect_ratio,
        "guidance_scale": spec.get("guidance_scale"),
        "fps": clip.fps,
        "length_s": round(clip.duration_s, 3),
        "style": style.get("name") if isinstance(style, Mapping) else None,
        "sound": bool(spec.get("sound", False)),
        "steps": spec.get("steps"),
        # fast or hq; a spec without it is hq (every clip made before -fast, and hq ones since)
        "quality": spec.get("quality") or DEFAULT_QUALITY,
        "mode": spec.get("mode", "t2v"),
    }


def remix_command(clip: Generation) -> str | None:
    """The line that remakes the clip (`/create`, a story's `/story`, an animated picture's
    `/animate` …), from its spec with the row's columns as fallback (older rows kept fewer
    keys); None for an edit, which no line makes: it is made from its parent."""
    spec = {
        "prompt": clip.prompt,
        "negative_prompt": clip.negative_prompt,
        "seed": clip.seed,
        "motion": clip.motion,
        "camera": clip.camera,
        "aspect_ratio": clip.aspect_ratio,
        "fps": clip.fps,
        "num_frames": clip.num_frames,
        **(clip.spec or {}),
        "hidden": False,  # what the gallery shows is public
    }
    mode = str(spec.get("mode") or "t2v")
    if mode in ("edit", "speak_clip"):  # made from its parent (/speak clip: names the clip)
        return None
    # A story's line has shots (and their own flags) only /story reads; /create would refuse it
    return f"{slash_command(mode)} prompt: " + stored_command_line(spec)


def public_json(
    request: web.Request,
    clip: Generation,
    owner_name: str = "",
    *,
    parents: Collection[str],
    detail: bool = False,
) -> dict[str, Any]:
    """The clip as the API shows it; `parent_id` only when it is in `parents`, the public ones
    (a held, hidden, removed or deleted parent is not named)."""
    base = request.app[PUBLIC_URL]
    member = member_path(clip.owner_id)
    public = GenerationPublic.model_validate(
        clip,
        update={
            "owner_name": owner_name,
            "page_url": clip_url(base, clip.id),
            "media_url": media_url(base, clip.id),
            "poster_url": media_url(base, clip.id, "jpg"),
            "preview_url": media_url(base, clip.id, "preview.mp4"),
            "member_url": base + member if member else None,
        },
    )
    data = public.model_dump(mode="json")
    if clip.parent_id not in parents:
        data["parent_id"] = None
    if detail:
        data["flags"] = flags_of(clip)
        data["render_seconds"] = render_seconds(clip)
        data["create_command"] = remix_command(clip)
    return data


def iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None
