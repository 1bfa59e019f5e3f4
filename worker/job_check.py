"""A job is rendered only as its gallery row asked for it, and only within what the family makes.

Anyone who can write to Redis can put a job into arq's queue, and `RenderSpec`'s bounds (4096
pixels a side, 1,440 frames, 200 steps) are the contract's, not what a model family renders. The
front ends write the row first (the database is the system of record), so before rendering the
worker checks the job against that row: the row exists, is waiting for a render, has this very
spec and owner; its input files are its own uploads or its ancestors' files; and its size is
within the loaded family's largest clip (`work_limit` times, by width × height × frames × steps).

A job that disagrees with its row (or has none) touches nothing: one log line, and the row, if
any, is left for its real job. A row that itself asks for too much, or for files that are not
its own, is failed with a reason the member and the operator read.
"""

from __future__ import annotations

import asyncio
import logging
import math
from typing import TYPE_CHECKING, Any

from core.capabilities import capabilities_for
from core.frames import PICTURE_KINDS
from core.rendercaps import Capabilities
from core.speak import VOICE_KIND
from core.spec import MAX_FPS, RenderJob, RenderSpec
from core.story import shots
from gallery.media import parse_relative
from gallery.models import UNFINISHED, Generation, GenerationStatus
from worker.announce import fail_clip

if TYPE_CHECKING:
    from gallery.store import GalleryStore
    from worker.settings import WorkerConfig

log = logging.getLogger(__name__)

# What a front end stores as a member's input under the request's own id (gallery.media).
UPLOAD_KINDS = frozenset(
    {
        "png",
        "end.png",
        *PICTURE_KINDS,
        "input.mp4",
        "input.mov",
        "input.webm",
        "input.mkv",
        VOICE_KIND,  # /speak's voice, re-encoded by the front end
    }
)
MAX_ANCESTORS = 64  # remix chains are short; a cycle or a forged chain must still end
ROUNDING = 1.25  # a frame snapped to the family's size grid may exceed its native area a little


class Refusal(Exception):
    """Why a job is not rendered; `fail_row`: the row itself is at fault, so it is failed."""

    def __init__(self, reason: str, *, fail_row: bool) -> None:
        super().__init__(reason)
        self.fail_row = fail_row


async def refused(ctx: dict[str, Any], job: RenderJob) -> dict[str, Any] | None:
    """None: render `job`. Otherwise it was refused before anything ran: what render_clip
    returns for it (its row failed when the row is at fault, untouched otherwise)."""
    config: WorkerConfig = ctx["config"]
    try:
        caps = capabilities_for(config.backend)  # the family this worker has loaded
        await asyncio.to_thread(check_job, ctx["store"], job, caps, config)
    except Refusal as refusal:
        log.warning("job refused, nothing rendered: %s", refusal)
        if refusal.fail_row:
            await fail_clip(ctx, job.generation_id, str(refusal))
        return {"status": "rejected", "generation_id": job.generation_id}
    return None


def check_job(
    store: GalleryStore, job: RenderJob, caps: Capabilities, config: WorkerConfig
) -> None:
    """Refusal unless `job` is its row's, waiting, within `caps`, with inputs of its own.
    Blocking: it reads the database."""
    row = store.get(job.generation_id)
    check_row(job, row)
    assert row is not None
    if row.status not in UNFINISHED:
        return  # done: render_clip announces the clip again instead of rendering it
    try:
        check_size(job.spec, caps, config.work_limit)
        check_inputs(store, row, job.spec)
    except Refusal as refusal:
        refusal.fail_row = True
        raise


def check_row(job: RenderJob, row: Generation | None) -> None:
    """The job is the one its row was queued with."""
    if row is None:
        raise Refusal("no gallery row has this generation id", fail_row=False)
    if row.status == GenerationStatus.FAILED:
        raise Refusal("its gallery row has failed already", fail_row=False)
    try:
        recorded = RenderSpec.model_validate(row.spec)
    except ValueError:
        raise Refusal("its gallery row holds no readable spec", fail_row=False) from None
    if recorded != job.spec:
        changed = [
            k for k in RenderSpec.model_fields if getattr(recorded, k) != getattr(job.spec, k)
        ]
        raise Refusal(f"it differs from its gallery row in {', '.join(changed)}", fail_row=False)
    if row.owner_id != job.spec.owner_id:
        raise Refusal("its owner is not its gallery row's owner", fail_row=False)


def largest(caps: Capabilities) -> tuple[int, int, int]:
    """(pixels, frames, steps) of the family's largest clip: an upscale (twice each side) of
    its longest clip at the fastest frame rate, at its default steps."""
    pixels = int(4 * caps.native_pixels * ROUNDING)
    frames = math.ceil(caps.max_seconds * MAX_FPS) + 1
    return pixels, frames, caps.default_steps


def check_size(spec: RenderSpec, caps: Capabilities, work_limit: float) -> None:
    """Within the family: its modes, its largest frame and length, its largest clip's work."""
    if spec.mode not in caps.all_modes:  # what it renders, and Add sound (worker.sound)
        raise Refusal(f"the {caps.name} model can't do {spec.mode}", fail_row=True)
    pixels, frames, steps = largest(caps)
    if spec.mode == "story":  # each shot is within the family's longest clip (worker.story)
        frames *= len(shots(spec.prompt))
    asked = f"{spec.width}×{spec.height}, {spec.num_frames} frames, {spec.steps} steps"
    if spec.width * spec.height > pixels or spec.num_frames > frames:
        raise Refusal(
            f"{asked} is larger than the {caps.name} model makes (at most about {pixels:,} "
            f"pixels a frame and {frames} frames)",
            fail_row=True,
        )
    work = spec.width * spec.height * spec.num_frames * spec.steps
    if work > work_limit * pixels * frames * steps:
        raise Refusal(
            f"{asked} is {work / (pixels * frames * steps):.1f} times the work of the "
            f"{caps.name} model's largest clip; this server allows {work_limit:g} "
            "(REELBOT_WORK_LIMIT)",
            fail_row=True,
        )


def check_inputs(store: GalleryStore, row: Generation, spec: RenderSpec) -> None:
    """Each input is this request's own upload, or a file of one of its ancestors (its
    uploads, which a reroll inherits, or its finished clip, which extend and upscale take)."""
    for item in spec.reference_media:  # -ref: a saved character's picture, or /create's own
        try:
            kind = parse_relative(item)[1]
        except ValueError:
            kind = ""
        if kind not in ("char.png", "ref.png"):
            raise Refusal(f"reference {item!r} is not a saved character's picture", fail_row=True)
    ancestors: dict[str, Generation] | None = None
    for item in spec.input_media:
        try:
            owner, kind = parse_relative(item)
        except ValueError:
            raise Refusal(f"input {item!r} is not a stored request's file", fail_row=True) from None
        if owner == row.id and kind in UPLOAD_KINDS:
            continue
        if ancestors is None:
            ancestors = lineage(store, row)
        ancestor = ancestors.get(owner)
        if ancestor is not None and (kind in UPLOAD_KINDS or item == ancestor.media_path):
            continue
        raise Refusal(
            f"input {item!r} is neither this request's upload nor a file of a clip it remixes",
            fail_row=True,
        )


def lineage(store: GalleryStore, row: Generation) -> dict[str, Generation]:
    """The row's ancestors by id, parent first, as the gallery recorded them."""
    found: dict[str, Generation] = {}
    parent_id = row.parent_id
    while parent_id and parent_id not in found and len(found) < MAX_ANCESTORS:
        parent = store.get(parent_id)
        if parent is None:
            break
        found[parent_id] = parent
        parent_id = parent.parent_id
    return found
