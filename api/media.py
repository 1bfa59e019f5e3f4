"""`GET /v1/clips/{id}/media`, `/preview` and `/poster`: a finished clip's files through the API.

The gallery serves a public clip's files to anyone, and a hidden one's (`-hide`, `"hide":
true`, a token made in DMs) to no one, so without these routes a member could not fetch their
own hidden clip. They answer to the tokens that may read the clip (`api.clips.visible_clip`: a
hidden clip's owner's alone, everyone else a 404), from the media store: the local folder, or
S3 through the store's local working copy (`fetch`), so a client sends its token to this API
and never follows a redirect with it. A clip a moderator holds, hid or removed has no files
here (its status is `held` or `failed`), as it has none in Discord.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from aiohttp import hdrs, web

from api.auth import require_scope
from api.clips import visible_clip
from api.clipstate import clip_status
from api.context import context_of
from api.feature import Feature
from api.openapi import Answer, Operations, path_parameter
from api.problems import Problem
from core.ids import GENERATION_ID_PATTERN
from gallery.media import CONTENT_TYPES, LocalMediaStore
from gallery.models import Generation

routes = web.RouteTableDef()
operations = Operations()
FEATURE = Feature(routes, operations)

# Route -> the stored kinds to try, best first (as the gallery falls back for its grid).
KINDS = {
    "media": ("mp4",),
    "preview": ("preview.mp4", "small.mp4", "mp4"),
    "poster": ("jpg",),
}
NOT_SHARED = "private, no-store"  # a hidden clip's bytes stay out of shared caches


def _stored(media: LocalMediaStore, row: Generation, kinds: tuple[str, ...]) -> str | None:
    """A local file of the first of `kinds` the store has (blocking: S3 may download it)."""
    for kind in kinds:
        relative = row.media_path if kind == "mp4" else media.relative_path(row.id, kind)
        if relative and (path := media.fetch(relative)) is not None:
            return str(path)
    return None


NO_FILES = {
    "held": "a moderator has it",
    "failed": "it failed",
    "cancelled": "it was cancelled",
}


async def clip_file(request: web.Request, kinds: tuple[str, ...]) -> web.StreamResponse:
    """The clip's file, the first of `kinds` there is, with Range support (seeking)."""
    ctx = context_of(request)
    token = require_scope(request, "clips:read")
    row, _ = await visible_clip(ctx, request.match_info["id"], token)
    status = clip_status(row)
    if status in ("queued", "running"):
        raise Problem(
            409,
            "Not ready",
            f"This clip is {status}; its files are here once it has succeeded (follow "
            "links.events, or its webhook).",
            "not-ready",
        )
    if status != "succeeded" or not row.media_path:
        why = NO_FILES.get(status, status)
        raise Problem(404, "No files", f"This clip has no files to fetch: {why}.", "no-media")
    path = await asyncio.to_thread(_stored, ctx.media_store, row, kinds)
    if path is None:
        raise Problem(404, "No files", "This clip's file is not in the media store.", "no-media")
    kind = next(k for k in kinds if path.endswith(f".{k}"))
    headers = {hdrs.CONTENT_TYPE: CONTENT_TYPES[kind], hdrs.CACHE_CONTROL: NOT_SHARED}
    if request.query.get("download") == "1":
        extension = "jpg" if kind == "jpg" else "mp4"
        headers[hdrs.CONTENT_DISPOSITION] = f'attachment; filename="reelbot-{row.id}.{extension}"'
    return web.FileResponse(path, headers=headers)


def _serving(kinds: tuple[str, ...]) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def handler(request: web.Request) -> web.StreamResponse:
        return await clip_file(request, kinds)

    return handler


for _kind, _what, _type in (
    ("media", "The clip (MP4)", "video/mp4"),
    ("preview", "Its short muted preview (MP4; the clip itself where none was made)", "video/mp4"),
    ("poster", "A still of it (JPEG)", "image/jpeg"),
):
    routes.get(f"/v1/clips/{{id}}/{_kind}")(_serving(KINDS[_kind]))
    operations.add(
        "GET",
        f"/v1/clips/{{id}}/{_kind}",
        f"A finished clip's file: {_what.split(' (')[0].lower()}",
        {
            200: Answer(_what, content_type=_type),
            206: Answer("The part asked for with Range", content_type=_type),
            401: "No token, or one that is revoked or mistyped",
            403: "The token lacks clips:read, or its member is banned",
            404: "No clip this token may see, or one with no files (held, failed, cancelled)",
            409: "Not finished yet",
        },
        scope="clips:read",
        parameters=[path_parameter("id", "The clip's id", GENERATION_ID_PATTERN)],
        description="What `result` links to for a hidden clip (its owner's tokens only); a "
        "public clip's are the gallery's too. `?download=1` names the file for saving.",
    )
