"""Message bodies as discord.py sends them (JSON, or multipart with `payload_json` + `files[n]`),
checked against Discord's documented limits so the bot meets the same 400s it would in production.
"""

from __future__ import annotations

import json
import mimetypes
import re
from dataclasses import dataclass
from typing import Any

from aiohttp import BodyPartReader, web

from tests.fakediscord.records import COMPONENTS_V2, walk_components


class ApiError(Exception):
    """A Discord JSON error: `{"message": …, "code": …}` with an HTTP status."""

    def __init__(
        self, status: int, code: int, message: str, errors: dict[str, Any] | None = None
    ) -> None:
        super().__init__(f"{status} {code} {message}")
        self.status, self.code, self.message, self.errors = status, code, message, errors

    def body(self) -> dict[str, Any]:
        data: dict[str, Any] = {"message": self.message, "code": self.code}
        if self.errors:
            data["errors"] = self.errors
        return data


def not_found(what: str, code: int) -> ApiError:
    return ApiError(404, code, f"Unknown {what}")


def invalid(field: str, message: str) -> ApiError:
    """Discord's 50035 Invalid Form Body, naming the field like its `errors` tree does."""
    errors = {field: {"_errors": [{"code": "BASE_TYPE_INVALID", "message": message}]}}
    return ApiError(400, 50035, "Invalid Form Body", errors)


@dataclass
class UploadedFile:
    """One `files[n]` part of a multipart body."""

    index: int
    filename: str
    data: bytes
    content_type: str | None


async def read_body(request: web.Request) -> tuple[Any, dict[int, UploadedFile]]:
    """The JSON payload and the uploaded files, whichever way the client encoded them."""
    if request.content_type.startswith("multipart/"):
        payload: dict[str, Any] = {}
        files: dict[int, UploadedFile] = {}
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader):
                continue
            name = part.name or ""
            data = await part.read()
            if name == "payload_json":
                payload = json.loads(data)
            elif m := re.fullmatch(r"files\[(\d+)\]", name):
                index = int(m.group(1))
                filename = part.filename or f"file{index}"
                content_type = part.headers.get("Content-Type")
                if content_type in (None, "application/octet-stream"):
                    content_type = mimetypes.guess_type(filename)[0] or content_type
                files[index] = UploadedFile(index, filename, bytes(data), content_type)
        return payload, files
    if request.can_read_body:
        raw = await request.read()
        return (json.loads(raw) if raw else {}), {}
    return {}, {}


EMBED_LIMITS = {"title": 256, "description": 4096}


def check_message(
    body: dict[str, Any], files: dict[int, UploadedFile], *, size_limit: int, creating: bool
) -> None:
    """Raise the ApiError Discord would answer for this message body, if any."""
    content = body.get("content")
    if content is not None and len(str(content)) > 2000:
        raise invalid("content", "Must be 2000 or fewer in length.")
    embeds = body.get("embeds") or []
    if len(embeds) > 10:
        raise invalid("embeds", "Must be 10 or fewer in length.")
    total = 0
    for i, embed in enumerate(embeds):
        for key, limit in EMBED_LIMITS.items():
            if len(embed.get(key) or "") > limit:
                raise invalid(f"embeds.{i}.{key}", f"Must be {limit} or fewer in length.")
        if len(embed.get("fields", [])) > 25:
            raise invalid(f"embeds.{i}.fields", "Must be 25 or fewer in length.")
        total += sum(len(embed.get(k) or "") for k in EMBED_LIMITS)
        total += sum(
            len(f.get("name", "")) + len(f.get("value", "")) for f in embed.get("fields", [])
        )
    if total > 6000:
        raise invalid("embeds", "Embed size exceeds maximum size of 6000")
    check_components(
        body.get("components") or [], v2=bool((body.get("flags") or 0) & COMPONENTS_V2)
    )
    for f in files.values():
        if len(f.data) > size_limit:
            raise ApiError(413, 40005, "Request entity too large")
    if creating and not (
        content
        or embeds
        or files
        or body.get("components")
        or body.get("sticker_ids")
        or body.get("poll")
    ):
        raise ApiError(400, 50006, "Cannot send an empty message")


def check_components(components: list[dict[str, Any]], *, v2: bool) -> None:
    """Limits discord.py does not check itself: custom_id length and uniqueness, labels, rows."""
    if not v2 and len(components) > 5:
        raise invalid("components", "Must be 5 or fewer in length.")
    seen: set[str] = set()
    for comp in walk_components(components):
        custom_id = comp.get("custom_id")
        if custom_id is not None:
            if len(custom_id) > 100:
                raise invalid(
                    "components.custom_id", f"Must be 100 or fewer in length: {custom_id!r}"
                )
            if custom_id in seen:
                raise invalid(
                    "components.custom_id",
                    f"Component custom id cannot be duplicated: {custom_id!r}",
                )
            seen.add(custom_id)
        if comp.get("type") == 1 and len(comp.get("components", [])) > 5:
            raise invalid("components.components", "Must be 5 or fewer in length.")
        if comp.get("type") == 2:
            if len(comp.get("label") or "") > 80:
                raise invalid("components.label", "Must be 80 or fewer in length.")
            is_link = comp.get("style") == 5
            if is_link != ("url" in comp) or (
                not is_link and comp.get("style") != 6 and not custom_id
            ):
                raise invalid(
                    "components", "A button needs a custom_id, or a url for link buttons."
                )


def check_modal(data: dict[str, Any]) -> None:
    if len(data.get("title") or "") > 45:
        raise invalid("data.title", "Must be 45 or fewer in length.")
    if len(data.get("custom_id") or "") > 100:
        raise invalid("data.custom_id", "Must be 100 or fewer in length.")
    if not data.get("components") or len(data["components"]) > 5:
        raise invalid("data.components", "Must be between 1 and 5 in length.")
    for comp in walk_components(data["components"]):
        if comp.get("type") in (4, 18) and len(comp.get("label") or "") > 45:
            raise invalid("data.components.label", "Must be 45 or fewer in length.")


def check_choices(data: dict[str, Any]) -> None:
    choices = data.get("choices") or []
    if len(choices) > 25:
        raise invalid("data.choices", "Must be 25 or fewer in length.")
    for choice in choices:
        if not 1 <= len(choice.get("name", "")) <= 100:
            raise invalid("data.choices.name", "Must be between 1 and 100 in length.")
