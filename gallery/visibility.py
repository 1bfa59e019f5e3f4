"""Who can fetch a clip's files straight from the bucket, kept in step with its row.

The row is the truth about who may see a clip (`Generation.is_public`); the media store's
public prefix must follow it. These functions put a clip's public media there only after the
row says public, re-reading the row afterwards (a hide that landed meanwhile takes them down
again), and take it down before a clip stops being public as well as after. So a crash at any
point never leaves a public copy of a clip that is not public, at worst a public clip served
through presigned URLs until the next `place`; every step is idempotent, and `sync` redoes it
for every clip (`reelbot media sync`, after an upgrade or to mend anything).

Blocking (database and bucket calls): async callers use `asyncio.to_thread`.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass

from gallery.deletion import discard_files
from gallery.media import LocalMediaStore
from gallery.models import Generation, Moderation
from gallery.moderation import ModerationStore
from gallery.store import GalleryStore

log = logging.getLogger(__name__)


def place(store: GalleryStore, media: LocalMediaStore, generation_id: str) -> bool:
    """Expose the clip's public media if its row says public, else withdraw them; whether it
    is public now."""
    row = store.get(generation_id)
    if row is None or not row.is_public:
        media.withdraw(generation_id)
        return False
    if not media.expose(generation_id):  # nothing was copied out: nothing to take back
        return True
    row = store.get(generation_id)
    if row is None or not row.is_public:  # hidden while we copied: its hide may have run first
        media.withdraw(generation_id)
        return False
    return True


def change_moderation(
    moderation: ModerationStore,
    store: GalleryStore,
    media: LocalMediaStore,
    generation_id: str,
    sources: Collection[Moderation | str],
    to: Moderation | str,
) -> bool:
    """`ModerationStore.transition` with the files following: out of the public prefix before
    a clip leaves "ok", back in once it is "ok" again. True for the call that moved it."""
    if Moderation(to) != Moderation.OK:
        media.withdraw(generation_id)
    moved = moderation.transition(generation_id, sources, to)
    place(store, media, generation_id)
    return moved


def hide_member(
    moderation: ModerationStore, store: GalleryStore, media: LocalMediaStore, member_id: str
) -> list[Generation]:
    """A purge: `ModerationStore.hide_all_of` with every hidden clip's files withdrawn (before,
    for the clips public then, and after, for any made public meanwhile); the rows it hid."""
    for generation_id in moderation.unhidden_of(member_id):
        media.withdraw(generation_id)
    rows = moderation.hide_all_of(member_id)
    for row in rows:
        place(store, media, row.id)
    return rows


@dataclass
class SyncReport:
    """What `sync` did: objects an older version wrote that it moved, clips public and not."""

    adopted: int = 0
    public: int = 0
    private: int = 0
    deleted: int = 0


def sync(store: GalleryStore, media: LocalMediaStore, *, page: int = 500) -> SyncReport:
    """Bring every file where its row says: first move objects an older version wrote into
    today's layout, then expose each public clip, withdraw every other one and delete the
    files of deleted clips no live clip uses. Safe to stop and run again, and while the bot,
    gallery and workers run."""
    report = SyncReport()
    for generation_id in media.adopt_legacy():
        report.adopted += 1
        log.debug("moved %s's old object into the private prefix", generation_id)
    after = ""
    while rows := store.page_by_id(after=after, limit=page):
        for row in rows:
            if row.deleted_at is not None:
                media.withdraw(row.id)
                discard_files(store, media, row.id)
                report.deleted += 1
            elif place(store, media, row.id):
                report.public += 1
            else:
                report.private += 1
        after = rows[-1].id
    return report
