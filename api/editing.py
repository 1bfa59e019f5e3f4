"""Edits through the API: `from` + `action` modify, expand, add or swap, taken by
`intake.edits` as ✏️ Modify, ↔ Expand, /add and /swap are on Discord.

The clip is checked first (`check_parent`; a clip this token may not see is a 404 as for every
follow-up, one still rendering, held or failed a 409), then the editing family (none in the
fleet: 503), then the edit itself (`EditAsk`, `edit_spec`: where, the shape, the words; 422).
The child is the token's member's, screened (the instruction and `where`), capped and queued
as every request; an `image` (add, swap with a picture) is checked as /animate's and stored
under the new id only once the member is let in.
"""

from __future__ import annotations

import asyncio
from typing import get_args

from api.askers import NOT_FOUND, ApiAsker, Draft, settings_given, visible_to
from api.context import ApiContext
from api.problems import Problem
from api.reading import Upload
from api.schemas import ClipRequest
from core.edits import EditKind
from core.errors import UserFacingError
from core.spec import RenderSpec
from gallery.apitables import ApiToken
from intake.edits import (
    CannotEdit,
    EditAsk,
    check_parent,
    edit_capabilities,
    edit_spec,
    queued_note,
)

EDIT_ACTIONS: tuple[str, ...] = get_args(EditKind)
EDIT_FIELDS = {"where": "where", "expand_to": "expand_to", "zoom_out": "zoom_out", "with_": "with"}
# check_parent's reasons: a clip gone (or not this token's to see) is not found; one that is
# there but not finished, or waiting for a moderator, conflicts with editing it now.
PARENT_STATUS = {
    "missing": 404,
    "deleted": 404,
    "removed": 403,  # taken down by the moderators: its owner sees it, can't edit it
    "hidden": 404,
    "held": 409,
    "rendering": 409,
    "unfinished": 409,
}


def stray_edit_fields(req: ClipRequest) -> str:
    """The edit-only fields sent, named for a refusal ("" when none)."""
    return ", ".join(f"`{shown}`" for name, shown in EDIT_FIELDS.items() if getattr(req, name))


def edit_ask(req: ClipRequest, upload: Upload | None) -> EditAsk:
    """The edit the fields ask for, in `EditAsk`'s shape (its own checks read it later)."""
    kind: EditKind = req.action  # type: ignore[assignment]  # one of EDIT_ACTIONS
    given = [name for name, value in settings_given(req).items() if value is not None]
    if given or (upload is not None and upload.kind != "image"):
        what = ", ".join(f"`{n}`" for n in given) or "a video"
        raise Problem(
            422,
            "Edit takes no settings",
            f"An edit keeps its clip's settings, so {what} can't be sent with it. Send "
            "`prompt`, `where`, `expand_to`, `zoom_out`, `with` or an `image`, as the edit takes.",
            "edit-settings",
        )
    if upload is not None and kind not in ("add", "swap"):
        raise Problem(
            422,
            "No picture for this edit",
            f"`{kind}` takes no file: an `image` goes with add (what to put in) or swap (what "
            "replaces the thing named by `where`).",
            "edit-picture",
        )
    if kind == "swap" and (req.prompt is not None or (req.with_ is None) == (upload is None)):
        raise Problem(
            422,
            "Say what replaces it",
            "A swap takes `where` (what to replace) and exactly one of `with` (words, like "
            '"a vintage bicycle") or an `image` file of what replaces it.',
            "edit-swap",
        )
    if kind != "swap" and req.with_ is not None:
        raise Problem(
            422,
            "Only for a swap",
            "`with` says what replaces a thing in a swap; for other edits say it in `prompt`.",
            "edit-fields",
        )
    return EditAsk(
        kind,
        instruction=req.with_ or req.prompt or "",
        where=req.where or "",
        expand_to=req.expand_to,
        zoom_out=req.zoom_out,
    )


async def edit_draft(
    ctx: ApiContext, token: ApiToken, req: ClipRequest, upload: Upload | None
) -> Draft:
    """The edit child of `from`, sized for the editing family, as Discord's `queue_edit`
    makes it; the picture (if any) checked and stored by the draft's `finish`."""
    if req.from_ is None:
        raise Problem(
            422,
            "Follow-up incomplete",
            f"`{req.action}` edits a clip: send `from` (the clip's id) with it.",
            "follow-up-incomplete",
        )
    ask = edit_ask(req, upload)
    row = await asyncio.to_thread(ctx.store.get, req.from_)
    if row is None or not visible_to(row, token):
        raise Problem(404, "No such clip", NOT_FOUND, "not-found")
    try:
        media = check_parent(row, token.member_id)
    except CannotEdit as exc:
        status = PARENT_STATUS.get(exc.reason, 409)
        title = "No such clip" if status == 404 else "Can't edit this clip yet"
        raise Problem(status, title, str(exc), f"edit-{exc.reason}") from None
    try:
        caps = await edit_capabilities(ctx.model_capabilities, ctx.submitter.fleet)
    except UserFacingError as exc:
        raise Problem(503, "No editing worker", str(exc), "no-editor") from None
    parent = RenderSpec.model_validate(row.spec)
    spec = edit_spec(
        parent,
        row.id,
        ApiAsker.of(token),
        ask,
        caps,
        parent_media=media,
        picture=media if upload is not None else None,  # held until the picture is stored
        default_quality=ctx.default_quality,
    )
    if req.hide and not spec.hidden:  # hiding only: a hidden parent's edit stays hidden
        spec = spec.model_copy(update={"hidden": True})
    note = queued_note(parent, caps)
    notes = (note,) if note else ()
    if upload is None:
        return Draft(spec, notes=notes)
    edited = spec

    async def finish(gid: str) -> tuple[RenderSpec, list[str]]:
        picture = await ctx.upload_checks.image(upload.data, upload.filename)
        stored, _size = await asyncio.to_thread(ctx.media_store.save_bytes, gid, picture.png, "png")
        return edited.model_copy(update={"input_media": (media, stored)}), []

    return Draft(spec, notes=notes, finish=finish)
