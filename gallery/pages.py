"""The gallery's HTML pages: home (new, top, trending), a clip, a member, search, and files."""

from __future__ import annotations

import asyncio
import logging

from aiohttp import hdrs, web
from pydantic import ValidationError

from core.edits import EditSpec
from core.story import STORY, shot_lengths, shots
from gallery.browse import Lineage, Page
from gallery.characters import CharacterStore
from gallery.media import LocalMediaStore
from gallery.models import Generation
from gallery.paging import InvalidCursor, Period, Sort
from gallery.webkit import (
    BROWSE,
    CAMERAS,
    MEDIA,
    NOT_FOUND,
    PUBLIC_URL,
    STORE,
    PageError,
    bad_cursor,
    clip_url,
    cursor_of,
    flags_of,
    media_url,
    member_path,
    period_of,
    remix_command,
    render,
    render_seconds,
    search_of,
    sort_of,
)

log = logging.getLogger(__name__)

# A clip's files never change under its id, so browsers and proxies may keep them forever.
IMMUTABLE = "public, max-age=31536000, immutable"
REDIRECT_CACHE = "private, max-age=300"
CONTENT_TYPES = {
    "mp4": "video/mp4",
    "small.mp4": "video/mp4",
    "preview.mp4": "video/mp4",
    "jpg": "image/jpeg",
}
# Derived copies an old clip may lack, best first; the clip itself is the last resort.
FALLBACKS = {"mp4": (), "small.mp4": ("small.mp4",), "preview.mp4": ("preview.mp4", "small.mp4")}
TITLES = {Sort.NEW: "Newest clips", Sort.TOP: "Top clips", Sort.TRENDING: "Trending clips"}


async def index(request: web.Request) -> web.Response:
    """Home: public clips, newest, most liked (over a day, a week or all time) or trending."""
    sort, period, cursor = sort_of(request), period_of(request), cursor_of(request)
    try:
        page = await asyncio.to_thread(
            request.app[BROWSE].clips, sort, period=period, cursor=cursor
        )
    except InvalidCursor as exc:
        raise bad_cursor(exc) from exc
    return render(
        request,
        "index.html",
        page=page,
        sort=sort.value,
        period=period.value,
        periods=[p.value for p in Period],
        sorts=[s.value for s in Sort],
        title=TITLES[sort],
        paged=cursor is not None,
        member_path=member_path,
    )


async def clip_page(request: web.Request) -> web.Response:
    found = await asyncio.to_thread(request.app[BROWSE].public_clip, request.match_info["id"])
    if found is None:
        raise PageError(404, NOT_FOUND)
    clip, owner_name = found
    lineage = await asyncio.to_thread(request.app[BROWSE].lineage, clip.id)
    base = request.app[PUBLIC_URL]
    return render(
        request,
        "clip.html",
        clip=clip,
        owner_name=owner_name,
        owner_path=member_path(clip.owner_id),
        flags=flags_of(clip),
        render_s=render_seconds(clip),
        command=remix_command(clip),
        lineage=lineage,
        edit=edited_from(clip, lineage),
        story=story_shots(clip),
        retake=retake_of(clip, lineage),
        page_url=clip_url(base, clip.id),
        video_url=media_url(base, clip.id),
        poster_url=media_url(base, clip.id, "jpg"),
    )


def edited_from(clip: Generation, lineage: Lineage) -> dict[str, str] | None:
    """An edit's line in its lineage: what was done and the instruction (an expand's borders
    follow the parent's own prompt, so it has none), and its parent when that is public."""
    edit = clip.spec.get("edit") if clip.spec and clip.spec.get("mode") == "edit" else None
    if edit is None:
        return None
    try:
        what = EditSpec.model_validate(edit).describe()
    except ValidationError:
        return None
    said = "" if edit.get("kind") == "expand" else clip.prompt
    parent = next((a for a in lineage.ancestors if a.id == clip.parent_id), None)
    return {
        "what": what,
        "instruction": said,
        "parent_id": parent.id if parent else "",
        "parent_prompt": parent.prompt if parent else "",
    }


def story_shots(clip: Generation) -> list[dict[str, str]]:
    """A story's shots in order, each with its own words (the template escapes them) and where
    it is in the story's MP4, so the page plays each shot on its own as a media fragment of
    that clip (`#t=start,end`); [] for any other clip.

    A fragment of the story's own MP4, not a file per shot: that clip is the one the output
    scan passed, watermarked and signed, so a shot shows exactly what was checked and nothing
    else is made public (the stored `s0.mp4` … are the worker's, unscanned, never served)."""
    if not clip.spec or clip.spec.get("mode") != STORY:
        return []
    try:
        texts = shots(clip.prompt)
        fps = int(clip.spec.get("fps") or clip.fps)
        own = clip.spec.get("shot_flags") or []
        frames = [int(s["num_frames"]) if s.get("num_frames") else None for s in own]
        lengths = shot_lengths(int(clip.spec["num_frames"]), len(texts), frames)
    except (ValueError, KeyError, TypeError, AttributeError):
        return []
    out, start = [], 0
    for text, length in zip(texts, lengths, strict=True):
        begin, end = start / fps, (start + length) / fps
        out.append({"text": text, "start": f"{begin:g}", "end": f"{end:g}", "at": _at(begin)})
        start += length
    return out


def _at(seconds: float) -> str:
    whole = int(seconds)
    return f"{whole // 60}:{whole % 60:02d}"


def retake_of(clip: Generation, lineage: Lineage) -> dict[str, str] | None:
    """A 🎬 Retake's line: which shot of which story it took again (the story linked when it
    is public); None for any other clip."""
    shot = clip.spec.get("retake") if clip.spec else None
    if not isinstance(shot, int):
        return None
    parent = next((a for a in lineage.ancestors if a.id == clip.parent_id), None)
    return {
        "shot": str(shot + 1),
        "parent_id": parent.id if parent else "",
        "parent_prompt": parent.prompt if parent else "",
    }


async def member_page(request: web.Request) -> web.Response:
    member_id = request.match_info["member"]
    browse = request.app[BROWSE]
    profile = await asyncio.to_thread(browse.member, member_id)
    if profile is None:
        raise PageError(404, "There is no member page here.")
    try:
        page = await asyncio.to_thread(browse.member_clips, member_id, cursor=cursor_of(request))
    except InvalidCursor as exc:
        raise bad_cursor(exc) from exc
    # their saved characters (`-ref NAME`), by name only: the pictures stay private
    kept = await asyncio.to_thread(CharacterStore(browse.engine).for_member_page, member_id)
    return render(
        request,
        "member.html",
        profile=profile,
        page=page,
        characters=sorted({c.name for c in kept}, key=str.casefold),
        path=member_path(member_id),
        member_path=member_path,
    )


async def search_page(request: web.Request) -> web.Response:
    query = search_of(request)
    page = Page([])
    if not query.empty:
        try:
            page = await asyncio.to_thread(
                request.app[BROWSE].search, query, cursor=cursor_of(request)
            )
        except InvalidCursor as exc:
            raise bad_cursor(exc) from exc
    return render(
        request,
        "search.html",
        query=query,
        page=page,
        cameras=CAMERAS,
        searched=not query.empty,
        member_path=member_path,
    )


async def _public_row(request: web.Request) -> Generation:
    clip = await asyncio.to_thread(request.app[STORE].get, request.match_info["id"])
    if clip is None or not clip.is_public:
        raise PageError(404, NOT_FOUND)
    return clip


async def file_response(
    request: web.Request, clip: Generation, kind: str, *, cache: str = IMMUTABLE
) -> web.StreamResponse:
    """A clip's file: `mp4` the clip, `jpg` its poster, `preview.mp4` the grid's short muted
    copy and `small.mp4` the copy under the upload cap when the worker made them (else the
    next best: preview -> small -> the clip). A local file is served by aiohttp's FileResponse,
    which answers Range (206) and conditional requests (ETag, Last-Modified -> 304); a store
    with URLs (S3) gets a 302 to one, and the bucket answers those."""
    media = request.app[MEDIA]
    download = request.query.get("download") == "1"
    extension = "jpg" if kind == "jpg" else "mp4"
    name = f"reelbot-{clip.id}.{extension}" if download else None
    private = not cache.startswith("public")  # moderators' views: never a public CDN URL
    try:
        relative, url = await asyncio.to_thread(_locate, media, clip, kind, name, private)
    except ValueError:
        log.warning("generation %s has an unusable media path %r", clip.id, clip.media_path)
        raise PageError(404, NOT_FOUND) from None
    if relative is None:
        raise PageError(404, NOT_FOUND)
    if url is not None:
        # Presigned URLs expire: the redirect is cached briefly, the file behind it for good.
        again = cache if private else REDIRECT_CACHE
        return web.Response(status=302, headers={hdrs.LOCATION: url, hdrs.CACHE_CONTROL: again})
    headers = {hdrs.CONTENT_TYPE: CONTENT_TYPES[kind], hdrs.CACHE_CONTROL: cache}
    if name is not None:
        headers[hdrs.CONTENT_DISPOSITION] = f'attachment; filename="{name}"'
    return web.FileResponse(media.resolve(relative), headers=headers)


def _locate(
    media: LocalMediaStore, clip: Generation, kind: str, name: str | None, private: bool
) -> tuple[str | None, str | None]:
    """(the stored file to serve or None if missing, a URL to redirect to); blocking."""
    if not clip.media_path:
        return None, None
    relative = clip.media_path if kind in FALLBACKS else media.relative_path(clip.id, kind)
    for fallback in FALLBACKS.get(kind, ()):
        wanted = media.relative_path(clip.id, fallback)
        if media.exists(wanted):
            relative = wanted
            break
    if not media.exists(relative):
        return None, None
    return relative, media.url_for(relative, download_name=name, private=private)


async def media_file(request: web.Request) -> web.StreamResponse:
    """A public clip's files, with Range support (seeking) and long-lived caching."""
    clip = await _public_row(request)
    return await file_response(request, clip, request.match_info["kind"])
