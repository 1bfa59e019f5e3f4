"""Deleting a clip deletes its files: the clip, its copies, its stills, its contact sheet and
the inputs a member sent for it, locally and in the bucket.

The row stays (marked deleted: lineage and the audit log still name it); the files go once the
row says deleted, except one that a live clip still needs: a remix keeps its parent's input
image and an extend or upscale reads its parent's video, so those stay until the last clip
naming them is deleted too (deleting that one removes them). There is no undo for a member's
delete, so no grace period; a purge hides first and deletes after `PURGE_GRACE`, the time a
moderator has to unhide a clip.

Blocking (database and bucket calls): async callers use `asyncio.to_thread`.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from gallery.community import CommunityStore
from gallery.media import KINDS, LocalMediaStore, parse_relative
from gallery.models import utcnow
from gallery.moderation import ModerationStore
from gallery.store import GalleryStore

log = logging.getLogger(__name__)

PURGE_GRACE = timedelta(days=7)


def delete_clip(
    community: CommunityStore, store: GalleryStore, media: LocalMediaStore, generation_id: str
) -> bool:
    """A member's (or moderator's) delete: out of the public prefix first, the row marked
    deleted, then its files gone; True the first time. Running it again finishes a delete a
    crash interrupted."""
    media.withdraw(generation_id)
    first = community.delete(generation_id)
    discard_files(store, media, generation_id)
    return first


def discard_files(store: GalleryStore, media: LocalMediaStore, generation_id: str) -> list[str]:
    """Delete the files of a deleted clip that no live clip uses, and those it used of an
    already deleted clip that nothing else uses now; the paths deleted (or already gone)."""
    row = store.get(generation_id)
    if row is None or row.deleted_at is None:
        return []
    removed = _discard_own(store, media, generation_id)
    borrowed = row.spec.get("input_media") if isinstance(row.spec, dict) else None
    owners = set()
    for relative in borrowed or ():
        try:
            owners.add(parse_relative(str(relative))[0])
        except ValueError:
            log.warning("input %r is not a stored file; nothing to delete", relative)
    for owner in sorted(owners - {generation_id}):
        owner_row = store.get(owner)
        if owner_row is not None and owner_row.deleted_at is not None:
            removed += _discard_own(store, media, owner)
    return removed


def _discard_own(store: GalleryStore, media: LocalMediaStore, generation_id: str) -> list[str]:
    keep = store.inputs_in_use(generation_id)
    kinds = sorted(k for k in KINDS if media.relative_path(generation_id, k) not in keep)
    media.remove(generation_id, kinds)
    if keep:
        log.info(
            "kept %s: live clips use them", sorted(keep), extra={"generation_id": generation_id}
        )
    return [media.relative_path(generation_id, kind) for kind in kinds]


def expire_purged(
    moderation: ModerationStore,
    community: CommunityStore,
    store: GalleryStore,
    media: LocalMediaStore,
    *,
    now: datetime | None = None,
    grace: timedelta = PURGE_GRACE,
) -> list[str]:
    """Delete the clips a purge hid `grace` ago that no moderator has shown again since; their
    ids."""
    expired = moderation.purged_before((now or utcnow()) - grace)
    for generation_id in expired:
        delete_clip(community, store, media, generation_id)
        log.info("deleted: purged and not restored", extra={"generation_id": generation_id})
    return expired
