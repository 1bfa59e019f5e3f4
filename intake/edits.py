"""Taking an edit of a finished clip (✏️ Modify, ↔ Expand, /add, /swap, `reelbot edit`): which
clip, whether this member may edit it, and the child's spec, the same for every front end.

An edit is a child clip in mode "edit" (`core.edits`): its first input is the parent's finished
MP4, its second the member's picture (/add, /swap with a picture). It is sized for the family
that renders edits (`edit_capabilities`, the one place that picks it), keeps the parent's shape
(an expand: the new canvas, as `core.edits.expand_canvas` computes it, which the worker
recomputes), frame rate and length (cut to what that family makes, and said), and then goes
through screening, the caps and the fair queue like every request: the instruction is its
prompt, and the words naming the region are screened too (`intake.screening`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from pydantic import ValidationError

from core.capabilities import capabilities_for
from core.edits import EditKind, EditSpec, expand_canvas, parse_where
from core.errors import FlagError, UserFacingError
from core.flags import random_seed
from core.flagtext import clean_text
from core.ids import GENERATION_ID, is_generation_id
from core.rendercaps import Capabilities
from core.spec import DEFAULT_QUALITY, Quality, RenderSpec
from gallery.models import Generation, GenerationStatus, Moderation
from intake.children import child_fields, child_quality
from intake.fleet import FleetChoice
from intake.followups import Owner, other_seed

EDIT_FAMILY = "wan_vace"  # what renders edits where the main family can't (worker.backends)
MAX_INSTRUCTION_CHARS = 300
ADD_PROMPT = "the object from the picture, in the scene"
NO_EDITOR = (
    "No worker here can edit clips right now. Ask the server's operator to run an editing "
    "worker (REELBOT_BACKEND=wan_vace), then try again."
)


async def edit_capabilities(main: Capabilities, fleet: FleetChoice | None = None) -> Capabilities:
    """The capabilities of the family that renders edits, the one place that picks it: the
    fleet's choice (`FleetChoice.family_for("edit")`, a UserFacingError when no worker edits);
    where that is a family that can't edit (no worker seen yet) or there is no fleet to ask,
    the main family's when it edits, else the VACE family's."""
    if fleet is not None:
        chosen = await fleet.family_for("edit", main)
        if "edit" in chosen.modes:
            return chosen
    if "edit" in main.modes:
        return main
    try:
        caps = capabilities_for(EDIT_FAMILY)
    except ValueError:
        raise UserFacingError(NO_EDITOR) from None
    if "edit" not in caps.modes:
        raise UserFacingError(NO_EDITOR)
    return caps


# A Discord message link (Copy Message Link on a result): the clip is found by its message.
MESSAGE_LINK = re.compile(
    r"https://(?:(?:ptb|canary)\.)?discord(?:app)?\.com/channels/(?:\d+|@me)/\d+/(?P<id>\d+)"
)


def message_id_of(text: str) -> int | None:
    """The message id in a Discord message link, or None when `text` is not one."""
    found = MESSAGE_LINK.fullmatch(text.strip().strip("<>"))
    return int(found["id"]) if found else None


def clip_id_of(text: str, gallery_url: str = "") -> str:
    """The generation id in a member's clip reference: an id, or a link to one of our gallery's
    clips (`/clips/<id>`, `/media/<id>.mp4`). A link to anywhere else is refused."""
    value = text.strip().strip("<>")
    if is_generation_id(value):
        return value
    parts = urlsplit(value)
    ours = urlsplit(gallery_url) if gallery_url else None
    found = GENERATION_ID.search(parts.path) if parts.scheme in ("http", "https") else None
    if found is None or (ours is not None and parts.netloc.lower() != ours.netloc.lower()):
        where = f" ({gallery_url.rstrip('/')}/clips/…)" if gallery_url else ""
        raise UserFacingError(
            f"`{value[:100]}` isn't one of this server's clips. Give a clip's id, its "
            f"gallery link{where} or the link to its message here."
        )
    return found.group(0)


class CannotEdit(UserFacingError):
    """Why a clip can't be edited, with a `reason` a front end can answer by (the REST API's
    status): missing, deleted, removed (by the moderators), hidden, held, rendering or
    unfinished."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


def check_parent(row: Generation | None, asker_id: str, *, moderates: bool = False) -> str:
    """The parent's finished MP4 (its media path), or why this member can't edit it."""
    if row is None:
        raise CannotEdit("I can't find that clip. Check its id or link and try again.", "missing")
    if row.deleted_at is not None:
        raise CannotEdit("That clip was deleted, so there's nothing left to edit.", "deleted")
    if row.moderation in (Moderation.REMOVED, Moderation.HIDDEN):  # its owner and moderators too:
        raise CannotEdit(  # an edit of it would be a new clip, public where its parent is not
            "That clip was taken down by the moderators, so it can't be edited (a moderator "
            "can restore it first).",
            "removed",
        )
    if row.hidden and not (moderates or row.owner_id == asker_id):
        raise CannotEdit(
            "That clip is hidden: only the person who made it, or a moderator, can edit it.",
            "hidden",
        )
    if row.moderation == Moderation.HELD:
        raise CannotEdit(
            "That clip is waiting for a moderator's review. You can edit it once it is approved.",
            "held",
        )
    if row.status in (GenerationStatus.QUEUED, GenerationStatus.RENDERING):
        raise CannotEdit(
            "That clip is still rendering. Try again once it has been posted.", "rendering"
        )
    if row.status != GenerationStatus.DONE or not row.media_path:
        raise CannotEdit("That clip didn't finish, so there's no video to edit.", "unfinished")
    return row.media_path


@dataclass(frozen=True, slots=True)
class EditAsk:
    """What a member asked, as typed: the kind, the instruction (the prompt), where, and the
    expand's shape or zoom. `edit()` reads it into an `EditSpec` or says what is wrong."""

    kind: EditKind
    instruction: str = ""
    where: str = ""
    expand_to: str | None = None
    zoom_out: float | None = None

    def edit(self) -> EditSpec:
        region: dict[str, object] = {}
        if self.where.strip():
            try:
                found = parse_where(self.where)
            except ValueError as exc:
                raise FlagError(f"I can't read *where*: {exc}.") from None
            region = {"where": found} if isinstance(found, str) else {"box": found}
        if self.kind == "swap" and not region:
            raise FlagError('Say what to replace, e.g. what:"the red car".')
        if self.kind == "expand" and region:
            raise FlagError("Expand makes new borders around the whole clip: leave *where* out.")
        try:
            return EditSpec.model_validate(
                {"kind": self.kind, "expand_to": self.expand_to, "zoom_out": self.zoom_out} | region
            )
        except ValidationError as exc:
            raise FlagError(f"This edit can't be made ({exc.errors()[0]['msg']}).") from None

    def prompt(self, parent: RenderSpec) -> str:
        """The words the model (and the policy) read: the instruction; an expand's borders
        follow the parent's own prompt; an /add without words places the picture's object."""
        words = clean_text(self.instruction)
        if len(words) > MAX_INSTRUCTION_CHARS:
            raise FlagError(
                f"Your instruction is {len(words)} characters; keep it to {MAX_INSTRUCTION_CHARS}."
            )
        if words:
            return words
        if self.kind == "expand":
            return parent.prompt
        if self.kind == "add":
            return ADD_PROMPT
        if self.kind == "swap":
            return "the object from the picture"
        raise FlagError('Say what to change, e.g. "make it snow" or "turn the dog into a cat".')


def edit_size(
    parent: RenderSpec, edit: EditSpec, capabilities: Capabilities
) -> tuple[int, int, str]:
    """(width, height, aspect ratio) of the edit: the parent's shape at the family's native
    size, or an expand's canvas (a FlagError when it is the clip's own shape)."""
    if edit.kind != "expand":
        width, height = capabilities.snap_size(parent.width, parent.height)
        return width, height, parent.aspect_ratio
    try:
        canvas = expand_canvas(
            parent.width,
            parent.height,
            expand_to=edit.expand_to,
            zoom_out=edit.zoom_out,
            native_pixels=capabilities.native_pixels,
            multiple=capabilities.size_multiple,
        )
    except ValueError as exc:
        raise FlagError(f"{str(exc)[:1].upper()}{str(exc)[1:]}.") from None
    return canvas.width, canvas.height, edit.expand_to or parent.aspect_ratio


def edit_frames(parent: RenderSpec, capabilities: Capabilities) -> tuple[int, str]:
    """The edit's frame count (the parent's, cut to the family's longest clip) and a note for
    the member when it was cut ("" otherwise)."""
    most = max(1, int(capabilities.max_seconds * parent.fps))
    if parent.num_frames <= most:
        return parent.num_frames, ""
    return most, (
        f"This clip is {parent.duration_s:g} s long; edits are made of its first "
        f"{capabilities.max_seconds:g} s."
    )


def edit_spec(
    parent: RenderSpec,
    parent_id: str,
    asker: Owner,
    ask: EditAsk,
    capabilities: Capabilities,
    *,
    parent_media: str,
    picture: str | None = None,
    seed_source: Callable[[], int] = random_seed,
    default_quality: Quality = DEFAULT_QUALITY,
) -> RenderSpec:
    """The edit child of `parent` for `asker`, sized for `capabilities` (the editing family),
    `picture` the stored path of the member's picture (/add, /swap with a picture)."""
    edit = ask.edit()
    prompt = ask.prompt(parent)
    if ask.kind == "add" and picture is None:
        raise FlagError("/add needs a picture of what to put in the clip.")
    width, height, aspect = edit_size(parent, edit, capabilities)
    num_frames, _note = edit_frames(parent, capabilities)
    quality = child_quality(capabilities, default_quality)
    seed = other_seed(parent.seed, seed_source)()
    fields = {
        **child_fields(parent, parent_id, asker, capabilities, seed=seed, quality=quality),
        "prompt": prompt,
        "aspect_ratio": aspect,
        "width": width,
        "height": height,
        "num_frames": num_frames,
        "mode": "edit",
        "input_media": (parent_media, *((picture,) if picture else ())),
        "edit": edit,
        "hidden": parent.hidden or asker.guild_id is None,  # DMs: private, as /create there
    }
    try:
        return RenderSpec.model_validate(fields)
    except ValidationError as exc:
        raise FlagError(f"This edit can't be rendered ({exc.errors()[0]['msg']}).") from None


def queued_note(parent: RenderSpec, capabilities: Capabilities) -> str:
    """What the member is told beside the queued answer: a length cut, if any."""
    return edit_frames(parent, capabilities)[1]
