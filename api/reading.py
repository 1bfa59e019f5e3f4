"""A `POST /v1/clips` body read: JSON, or multipart/form-data with an `image` or a `video`.

Bodies are bounded before they are read (Content-Length against REELBOT_API_MAX_BODY_BYTES by
the app's middleware; a JSON body at `JSON_MAX_BYTES`), and an upload part is read in chunks
and refused, in the words `/animate` and `/restyle` use, the moment it passes their cap. The
request's fingerprint (`body_hash`: its fields and its file's bytes) is what an
`Idempotency-Key` is matched against.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, Literal

from aiohttp import BodyPartReader, web
from pydantic import ValidationError

from api.context import context_of
from api.problems import Problem
from api.schemas import ClipRequest
from core.speak import MAX_VOICE_BYTES
from intake.media.images import MAX_BYTES, check_declared_size
from intake.media.videos import MAX_VIDEO_BYTES, check_declared_video_size
from intake.media.voices import ADVICE, SUBJECT

JSON_MAX_BYTES = 64 * 1024
FORM_FIELD_MAX = 8 * 1024
MAX_FORM_PARTS = 32
CHUNK_BYTES = 256 * 1024
UPLOAD_FIELDS = {"image": MAX_BYTES, "video": MAX_VIDEO_BYTES}
VOICE_FIELD = "voice"  # /speak's voice, beside its `image`


@dataclass(frozen=True)
class Upload:
    kind: Literal["image", "video", "voice"]
    filename: str
    data: bytes


@dataclass(frozen=True)
class Asked:
    """A clip request as read: its fields, its file (if any), its fingerprint, and /speak's
    voice file (if any)."""

    request: ClipRequest
    upload: Upload | None
    body_hash: str
    voice: Upload | None = None


def bad_body(detail: str) -> Problem:
    return Problem(400, "Bad request body", detail, "bad-body")


def clip_request(fields: dict[str, Any]) -> ClipRequest:
    """The fields as a ClipRequest, or a 422 that names each bad field and what it takes."""
    try:
        return ClipRequest.model_validate(fields)
    except ValidationError as exc:
        raise invalid_fields(exc) from None


def invalid_fields(exc: ValidationError) -> Problem:
    allowed = ", ".join(f.alias or name for name, f in ClipRequest.model_fields.items())
    errors = []
    for error in exc.errors(include_url=False, include_input=False):
        field = ".".join(str(part) for part in error["loc"]) or "body"
        if error["type"] == "extra_forbidden":
            message = f"`{field}` isn't a field of a clip request. Allowed: {allowed}."
        else:
            message = f"`{field}`: {error['msg']}."
        errors.append({"field": field, "message": message})
    detail = " ".join(e["message"] for e in errors[:3])
    return Problem(422, "Invalid request", detail, "invalid-request", errors=errors)


def fingerprint(fields: dict[str, Any], upload: Upload | None, voice: Upload | None = None) -> str:
    digest = hashlib.sha256(json.dumps(fields, sort_keys=True, default=str).encode())
    for file in (upload, voice):
        if file is not None:
            digest.update(f"\0{file.kind}\0{file.filename}\0".encode())
            digest.update(hashlib.sha256(file.data).digest())
    return digest.hexdigest()


async def read_clip_request(request: web.Request) -> Asked:
    """The body as a clip request; 400 for a body that can't be read, 413 for one too large,
    422 for fields that aren't right."""
    kind = request.content_type
    voice = None
    if kind == "multipart/form-data":
        fields, upload, voice = await _read_form(request)
    elif kind in ("application/json", "") or kind.endswith("+json"):
        fields, upload = await _read_json(request), None
    else:
        raise Problem(
            415,
            "Unsupported media type",
            f"Send the request as application/json (or multipart/form-data with an image or a "
            f"video), not {kind}.",
            "unsupported-media-type",
        )
    return Asked(clip_request(fields), upload, fingerprint(fields, upload, voice), voice)


async def read_at_most(request: web.Request, cap: int) -> bytes | None:
    """The whole body, or None once it passes `cap` bytes (read no further). One `read` gives
    only what has arrived so far: a body that comes in several TCP segments needs a loop."""
    if request.content_length is not None and request.content_length > cap:
        return None
    chunks: list[bytes] = []
    size = 0
    while chunk := await request.content.read(cap + 1 - size):
        size += len(chunk)
        if size > cap:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


async def _read_json(request: web.Request) -> dict[str, Any]:
    raw = await read_at_most(request, JSON_MAX_BYTES)
    if raw is None:
        raise _json_too_large()
    if not raw.strip():
        raise bad_body('The body is empty; send a JSON object like {"prompt": "a fox"}.')
    try:
        data = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        where = (
            f" (line {exc.lineno}, column {exc.colno})"
            if isinstance(exc, json.JSONDecodeError)
            else ""
        )
        raise bad_body(f"The body is not valid JSON{where}.") from None
    if not isinstance(data, dict):
        raise bad_body('The body must be a JSON object like {"prompt": "a fox"}.')
    return data


def _json_too_large() -> Problem:
    return Problem(
        413,
        "Request body too large",
        f"A JSON clip request can be at most {JSON_MAX_BYTES // 1024} KB; a prompt is at most "
        "4,000 characters. Send files as multipart/form-data.",
        "body-too-large",
    )


async def _read_form(
    request: web.Request,
) -> tuple[dict[str, Any], Upload | None, Upload | None]:
    """The form's fields, its file and its `voice`. The whole form is held to
    REELBOT_API_MAX_BODY_BYTES as it is read (a chunked body declares no length for the
    middleware to check) and to `MAX_FORM_PARTS` parts."""
    fields: dict[str, Any] = {}
    upload: Upload | None = None
    voice: Upload | None = None
    budget = Budget(context_of(request).settings.api_max_body_bytes)
    reader = await request.multipart()
    for _ in range(MAX_FORM_PARTS + 1):
        part = await reader.next()
        if part is None:
            return fields, upload, voice
        if not isinstance(part, BodyPartReader):
            raise bad_body("Nested multipart bodies aren't taken; send one form.")
        name = part.name or ""
        if name in UPLOAD_FIELDS:
            if upload is not None:
                raise bad_body("Send one file: an `image` to animate or a `video` to restyle.")
            upload = await _read_file(part, name, request.content_length, budget)
            continue
        if name == VOICE_FIELD:
            if voice is not None:
                raise bad_body("Send one `voice` file.")
            voice = await _read_voice(part, request.content_length, budget)
            continue
        if part.filename is not None:
            raise bad_body(
                f"`{name[:40]}` is a file; only `image` (to animate, edit or speak), `video` (to "
                "restyle) or `voice` (to speak) may be."
            )
        value, _size = await _read_part(part, FORM_FIELD_MAX, budget)
        if value is None:
            raise bad_body(f"The form field `{name[:40]}` is longer than {FORM_FIELD_MAX} bytes.")
        try:
            fields[name] = value.decode("utf-8")
        except UnicodeDecodeError:
            raise bad_body(f"The form field `{name[:40]}` is not UTF-8 text.") from None
    raise bad_body(f"A form has at most {MAX_FORM_PARTS} fields; a clip request needs far fewer.")


class Budget:
    """What is left of the body cap for the form's parts."""

    def __init__(self, max_body: int) -> None:
        self.max_body = max_body
        self.left = max_body

    def spend(self, size: int) -> None:
        """Count `size` more bytes; past the cap, the 413 the middleware words as a problem."""
        self.left -= size
        if self.left < 0:
            raise web.HTTPRequestEntityTooLarge(
                max_size=self.max_body, actual_size=self.max_body - self.left
            )


async def _read_part(part: BodyPartReader, cap: int, budget: Budget) -> tuple[bytes | None, int]:
    """The part's bytes (None once they pass `cap`: read no further) and how many were read.
    `read_chunk` gives what has arrived, which may be less than asked for: read until the
    part ends."""
    chunks: list[bytes] = []
    size = 0
    while chunk := await part.read_chunk(CHUNK_BYTES):
        size += len(chunk)
        budget.spend(len(chunk))
        if size > cap:
            return None, size
        chunks.append(chunk)
    return b"".join(chunks), size


async def _read_file(
    part: BodyPartReader, name: str, declared: int | None, budget: Budget
) -> Upload:
    """The file, read no further than its cap; the refusal names its size as the request
    declared it (Discord's words name the attachment's declared size too)."""
    cap = UPLOAD_FIELDS[name]
    filename = part.filename or name
    data, size = await _read_part(part, cap, budget)
    if data is None:  # the words /animate and /restyle use for a file too large
        shown = max(size, declared or 0)
        if name == "video":
            check_declared_video_size(filename, shown)
        check_declared_size(filename, shown)
        raise AssertionError("a file over its cap is refused above")  # pragma: no cover
    if not data:
        raise bad_body(f"The `{name}` file is empty.")
    kind: Literal["image", "video"] = "video" if name == "video" else "image"
    return Upload(kind, filename, data)


async def _read_voice(part: BodyPartReader, declared: int | None, budget: Budget) -> Upload:
    """/speak's voice, read no further than its cap (refused in /speak's words); its content
    is judged later, on the check processes (`intake.media.voices`)."""
    filename = part.filename or VOICE_FIELD
    data, size = await _read_part(part, MAX_VOICE_BYTES, budget)
    if data is None:
        shown = max(size, declared or 0)
        check_declared_size(
            filename, shown, max_bytes=MAX_VOICE_BYTES, subject=SUBJECT, advice=ADVICE
        )
        raise AssertionError("a file over its cap is refused above")  # pragma: no cover
    if not data:
        raise bad_body(f"The `{VOICE_FIELD}` file is empty.")
    return Upload("voice", filename, data)
