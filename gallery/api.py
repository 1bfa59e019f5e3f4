"""The JSON API under /api: the pages' data, documented in /api/openapi.json.

Every answer goes through `webkit.json_response` (member text without bidi controls), and a
clip names its parent only when that parent is public too.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection
from typing import Any

from aiohttp import web

from gallery.browse import Node, Page
from gallery.openapi import openapi_document
from gallery.paging import InvalidCursor
from gallery.webkit import (
    BROWSE,
    NOT_FOUND,
    PUBLIC_URL,
    PageError,
    bad_cursor,
    cursor_of,
    iso,
    json_response,
    limit_of,
    member_path,
    period_of,
    public_json,
    search_of,
    sort_of,
)


def _page_json(request: web.Request, page: Page) -> dict[str, Any]:
    return {
        "clips": [
            public_json(request, c, page.names.get(c.owner_id, ""), parents=page.parents)
            for c in page.clips
        ],
        "next": page.next,
    }


async def api_clips(request: web.Request) -> web.Response:
    sort, period, limit = sort_of(request), period_of(request), limit_of(request)
    try:
        page = await asyncio.to_thread(
            request.app[BROWSE].clips, sort, period=period, limit=limit, cursor=cursor_of(request)
        )
    except InvalidCursor as exc:
        raise bad_cursor(exc) from exc
    return json_response({"sort": sort, "period": period, **_page_json(request, page)})


async def api_clip(request: web.Request) -> web.Response:
    browse = request.app[BROWSE]
    found = await asyncio.to_thread(browse.public_clip, request.match_info["id"])
    if found is None:
        raise PageError(404, NOT_FOUND)
    clip, owner_name = found
    parents = await asyncio.to_thread(browse.public_parents, [clip])
    return json_response(public_json(request, clip, owner_name, parents=parents, detail=True))


def _node_json(request: web.Request, node: Node, parents: Collection[str]) -> dict[str, Any]:
    return {
        "clip": public_json(request, node.clip, parents=parents),
        "children": [_node_json(request, child, parents) for child in node.children],
    }


async def api_lineage(request: web.Request) -> web.Response:
    browse = request.app[BROWSE]
    found = await asyncio.to_thread(browse.public_clip, request.match_info["id"])
    if found is None:
        raise PageError(404, NOT_FOUND)
    lineage = await asyncio.to_thread(browse.lineage, found[0].id)
    parents = lineage.parents
    return json_response(
        {
            "id": found[0].id,
            "ancestors": [public_json(request, c, parents=parents) for c in lineage.ancestors],
            "children": [_node_json(request, node, parents) for node in lineage.children],
            "truncated": lineage.truncated,
        }
    )


async def api_member(request: web.Request) -> web.Response:
    member_id = request.match_info["member"]
    browse = request.app[BROWSE]
    limit, cursor = limit_of(request), cursor_of(request)
    profile = await asyncio.to_thread(browse.member, member_id)
    if profile is None:
        raise PageError(404, "There is no member page here.")
    try:
        page = await asyncio.to_thread(browse.member_clips, member_id, limit=limit, cursor=cursor)
    except InvalidCursor as exc:
        raise bad_cursor(exc) from exc
    member = {
        "id": profile.id,
        "display_name": profile.display_name,
        "joined": iso(profile.joined),
        "clips": profile.clips,
        "likes": profile.likes,
        "latest": iso(profile.latest),
        "page_url": request.app[PUBLIC_URL] + (member_path(profile.id) or ""),
    }
    return json_response({"member": member, **_page_json(request, page)})


async def api_search(request: web.Request) -> web.Response:
    query, limit = search_of(request), limit_of(request)
    page = Page([])
    if not query.empty:
        try:
            page = await asyncio.to_thread(
                request.app[BROWSE].search, query, limit=limit, cursor=cursor_of(request)
            )
        except InvalidCursor as exc:
            raise bad_cursor(exc) from exc
    return json_response(_page_json(request, page))


async def api_openapi(request: web.Request) -> web.Response:
    return web.json_response(openapi_document(request.app[PUBLIC_URL]))
