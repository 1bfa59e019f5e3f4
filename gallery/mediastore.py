"""The media store the settings ask for: the local folder, or that folder mirrored to S3.

A module of its own because it knows both kinds: `gallery.s3media` builds on `gallery.media`,
so the choice between them cannot live in `gallery.media` without an import cycle.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gallery.media import LocalMediaStore
from gallery.s3media import S3MediaStore  # imports boto3 (the `s3` extra) only when used

if TYPE_CHECKING:
    from gallery.settings import GallerySettings

__all__ = ["make_media_store"]


def make_media_store(settings: GallerySettings) -> LocalMediaStore:
    """The local store, or the S3 one when `REELBOT_MEDIA_STORE=s3`; both share one interface."""
    if settings.media_store == "s3":
        return S3MediaStore.from_settings(settings)
    return LocalMediaStore(settings.resolved_media_dir())
