"""The OpenAPI 3.1 description of every gallery route, served at /api/openapi.json.

Written by hand as data; tests/gallery/test_openapi.py checks that it names exactly the routes
the app serves (pages and files too, so the whole surface is in one place).
"""

from __future__ import annotations

from typing import Any

from core.ids import GENERATION_ID_PATTERN
from gallery.webkit import CAMERAS, MEMBER_PATTERN

_REF = "#/components/schemas/"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": _REF + name}


def _json(description: str, schema: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ref(schema)}}}


def _html(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"text/html": {"schema": {"type": "string"}}}}


_ERROR = {
    "description": "Refused, with a message for people (RFC 9457)",
    "content": {"application/problem+json": {"schema": _ref("Error")}},
}
_ID = {
    "name": "id",
    "in": "path",
    "required": True,
    "description": "Generation id",
    "schema": {"type": "string", "pattern": f"^{GENERATION_ID_PATTERN}$"},
}
_MEMBER = {
    "name": "member",
    "in": "path",
    "required": True,
    "description": "Member id, a platform and its id: discord:1234",
    "schema": {"type": "string", "pattern": f"^{MEMBER_PATTERN}$"},
}


def _query(name: str, description: str, **schema: Any) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": schema or {"type": "string"},
    }


_CURSOR = _query("cursor", "The `next` value of the previous page (keyset; opaque)")
_LIMIT = _query("limit", "Clips per page", type="integer", minimum=1, maximum=100, default=24)
_SORT = _query("sort", "Order", type="string", enum=["new", "top", "trending"], default="new")
_PERIOD = _query(
    "period", "For top: finished within", type="string", enum=["day", "week", "all"], default="all"
)
_SEARCH = [
    _query("q", "Words that must all be in the prompt (stemmed, English)"),
    _query("camera", "Camera move", type="string", enum=list(CAMERAS)),
    _query(
        "ar",
        "Aspect ratio such as 16:9",
        type="string",
        pattern="^[1-9][0-9]{0,4}:[1-9][0-9]{0,4}$",
    ),
    _query("model", "Model (backend) name", type="string", pattern="^[a-z0-9_-]{1,32}$"),
]


def _get(summary: str, responses: dict[str, Any], *params: Any, **extra: Any) -> dict[str, Any]:
    operation: dict[str, Any] = {"summary": summary, "responses": responses, **extra}
    if params:
        operation["parameters"] = list(params)
    return {"get": operation}


def _post_form(summary: str, responses: dict[str, Any], **fields: str) -> dict[str, Any]:
    """A POST of an HTML form (application/x-www-form-urlencoded) with these string fields."""
    form = {
        "type": "object",
        "required": sorted(fields),
        "properties": {name: {"type": "string", "description": d} for name, d in fields.items()},
    }
    body = {"content": {"application/x-www-form-urlencoded": {"schema": form}}}
    operation: dict[str, Any] = {"summary": summary, "responses": responses}
    if fields:
        operation["requestBody"] = {"required": True, **body}
    return {"post": operation}


def _schemas() -> dict[str, Any]:
    string, integer = {"type": "string"}, {"type": "integer"}
    nullable_string = {"type": ["string", "null"]}
    time = {"type": "string", "format": "date-time"}
    clip_fields = {
        "id": string,
        "prompt": string,
        "negative_prompt": string,
        "backend": string,
        "seed": integer,
        "width": integer,
        "height": integer,
        "num_frames": integer,
        "fps": integer,
        "aspect_ratio": string,
        "camera": nullable_string,
        "motion": integer,
        "parent_id": nullable_string,
        "size_bytes": {"type": ["integer", "null"]},
        "created_at": time,
        "finished_at": {"type": ["string", "null"], "format": "date-time"},
        "like_count": integer,
        "owner_id": string,
        "owner_name": string,
        "page_url": string,
        "media_url": string,
        "poster_url": string,
        "preview_url": string,
        "member_url": nullable_string,
    }
    clip = {"type": "object", "required": sorted(clip_fields), "properties": clip_fields}
    page = {
        "type": "object",
        "required": ["clips", "next"],
        "properties": {"clips": {"type": "array", "items": _ref("Clip")}, "next": nullable_string},
    }
    return {
        "Clip": clip,
        "ClipDetail": {
            "allOf": [
                _ref("Clip"),
                {
                    "type": "object",
                    "required": ["flags", "render_seconds", "create_command"],
                    "properties": {
                        "flags": {"type": "object", "additionalProperties": True},
                        "render_seconds": {"type": ["number", "null"]},
                        "create_command": {
                            "type": "string",
                            "description": "The /create line that remakes this clip",
                        },
                    },
                },
            ]
        },
        "ClipPage": page,
        "SortedClipPage": {
            "allOf": [
                _ref("ClipPage"),
                {"type": "object", "properties": {"sort": string, "period": string}},
            ]
        },
        "LineageNode": {
            "type": "object",
            "required": ["clip", "children"],
            "properties": {
                "clip": _ref("Clip"),
                "children": {"type": "array", "items": _ref("LineageNode")},
            },
        },
        "Lineage": {
            "type": "object",
            "required": ["id", "ancestors", "children", "truncated"],
            "properties": {
                "id": string,
                "ancestors": {"type": "array", "items": _ref("Clip")},
                "children": {"type": "array", "items": _ref("LineageNode")},
                "truncated": {"type": "boolean"},
            },
        },
        "Member": {
            "type": "object",
            "required": ["id", "display_name", "joined", "clips", "likes", "latest", "page_url"],
            "properties": {
                "id": string,
                "display_name": string,
                "joined": time,
                "clips": integer,
                "likes": integer,
                "latest": {"type": ["string", "null"]},
                "page_url": string,
            },
        },
        "MemberPage": {
            "allOf": [
                _ref("ClipPage"),
                {
                    "type": "object",
                    "required": ["member"],
                    "properties": {"member": _ref("Member")},
                },
            ]
        },
        "Health": {
            "type": "object",
            "required": ["ok", "database"],
            "properties": {"ok": {"type": "boolean"}, "database": string},
        },
        "Error": {
            "type": "object",
            "description": "An RFC 9457 problem; `error` repeats `detail` for older clients",
            "required": ["type", "title", "status", "detail", "error"],
            "properties": {
                "type": string,
                "title": string,
                "status": integer,
                "detail": string,
                "error": string,
            },
        },
    }


def openapi_document(public_url: str) -> dict[str, Any]:
    admin: dict[str, Any] = {"security": [{"adminToken": []}, {"adminCookie": []}]}
    paths: dict[str, Any] = {
        "/": _get("Home: public clips", {"200": _html("A page of clips")}, _SORT, _PERIOD, _CURSOR),
        "/clips/{id}": _get(
            "A clip's page", {"200": _html("The clip"), "404": _html("Not public")}, _ID
        ),
        "/members/{member}": _get(
            "A member's page",
            {"200": _html("Their clips"), "404": _html("None public")},
            _MEMBER,
            _CURSOR,
        ),
        "/search": _get("Search page", {"200": _html("Results")}, *_SEARCH, _CURSOR),
        "/media/{id}.{kind}": _get(
            "A public clip's file (Range requests, ETag, immutable caching)",
            {
                "200": {"description": "The file", "content": {"video/mp4": {}, "image/jpeg": {}}},
                "206": {"description": "Part of the file (Range)"},
                "302": {"description": "With an S3 media store: the file's URL there"},
                "304": {"description": "Not modified"},
                "404": _html("Not public or no such file"),
            },
            _ID,
            {
                "name": "kind",
                "in": "path",
                "required": True,
                "schema": {
                    "type": "string",
                    "enum": ["mp4", "small.mp4", "preview.mp4", "jpg"],
                },
            },
            _query("download", "1: as an attachment", type="string", enum=["1"]),
        ),
        "/admin": _get(
            "Moderators: clips kept from the public, or the audit log (404 when no admin token "
            "is configured)",
            {
                "200": _html("The list"),
                "400": _html("A bad parameter, or the token in the URL (never accepted there)"),
                "401": _html("Not signed in (or a wrong bearer token): the sign-in form"),
                "404": _html("Off"),
                "429": _html("Too many wrong tokens from this address; see Retry-After"),
            },
            _query("view", "What to show", type="string", enum=["clips", "audit"]),
            _query(
                "state",
                "Which list",
                type="string",
                enum=["held", "hidden", "removed", "member-hidden", "deleted"],
            ),
            _CURSOR,
            **admin,
        ),
        "/admin/login": _post_form(
            "Moderators: sign in with the admin token (from the form on /admin)",
            {
                "303": {"description": "Signed in: the session cookie is set (12 hours)"},
                "403": _html("Wrong token, or a form sent from another site"),
                "404": _html("Off"),
                "429": _html("Too many wrong tokens from this address; see Retry-After"),
            },
            token="The admin token",
        ),
        "/admin/logout": _post_form(
            "Moderators: sign out (the session cookie goes)",
            {
                "303": {"description": "Signed out"},
                "403": _html("A form sent from another site"),
                "404": _html("Off"),
            },
        ),
        "/admin/media/{id}.mp4": _get(
            "Moderators: any clip's video",
            {
                "200": {"description": "The clip", "content": {"video/mp4": {}}},
                "401": _html("Not signed in"),
                "404": _html("Off, or no such clip"),
            },
            _ID,
            **admin,
        ),
        "/healthz": _get(
            "Health", {"200": _json("Up", "Health"), "503": _json("Database unreachable", "Health")}
        ),
        "/api/clips": _get(
            "Public clips",
            {"200": _json("A page", "SortedClipPage"), "400": _ERROR},
            _SORT,
            _PERIOD,
            _LIMIT,
            _CURSOR,
        ),
        "/api/clips/{id}": _get(
            "One public clip", {"200": _json("The clip", "ClipDetail"), "404": _ERROR}, _ID
        ),
        "/api/clips/{id}/lineage": _get(
            "Remix lineage: public parents and remixes",
            {"200": _json("Both ways", "Lineage"), "404": _ERROR},
            _ID,
        ),
        "/api/members/{member}": _get(
            "A member, their stats and public clips",
            {"200": _json("The member", "MemberPage"), "404": _ERROR},
            _MEMBER,
            _LIMIT,
            _CURSOR,
        ),
        "/api/search": _get(
            "Search public clips' prompts, newest first",
            {"200": _json("A page", "ClipPage"), "400": _ERROR},
            *_SEARCH,
            _LIMIT,
            _CURSOR,
        ),
        "/api/openapi.json": _get(
            "This document",
            {"200": {"description": "OpenAPI 3.1", "content": {"application/json": {}}}},
        ),
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "reelbot gallery",
            "version": "1",
            "description": "Public clips the community made. Only public clips appear anywhere. "
            "Errors under /api are RFC 9457 problems; a URL over 8 KB is a 414.",
        },
        "servers": [{"url": public_url}],
        "paths": paths,
        "components": {
            "schemas": _schemas(),
            "securitySchemes": {
                "adminToken": {"type": "http", "scheme": "bearer"},
                "adminCookie": {"type": "apiKey", "in": "cookie", "name": "reelbot_admin"},
            },
        },
    }
