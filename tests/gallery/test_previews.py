"""Which clip `/styles` links as a style's preview (`gallery.previews.latest_previews`): the
newest finished public clip of the style, made by `reelbot styles preview`, on the bot's family."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlmodel import Session

from gallery.models import Generation, Moderation
from gallery.previews import PREVIEW_OWNER, latest_previews
from gallery.store import GalleryStore
from tests.gallery.factories import add_done, generation


def preview(store: GalleryStore, style: str, **overrides: Any) -> str:
    spec = {"prompt": "a fox", "style": {"name": style, "prompt_suffix": ""}}
    values = {"owner_id": PREVIEW_OWNER, "spec": spec, **overrides}
    return add_done(store, **values)


def made_earlier(store: GalleryStore, generation_id: str) -> None:
    """An hour older, so "newest" never rests on two rows' clock ticks."""
    with Session(store.engine) as session:
        row = session.get(Generation, generation_id)
        assert row is not None
        row.created_at -= timedelta(hours=1)
        session.add(row)
        session.commit()


def test_each_styles_newest_public_preview_on_the_family(store: GalleryStore) -> None:
    made_earlier(store, preview(store, "anime"))
    newest = preview(store, "anime")
    ink = preview(store, "ink")
    held = preview(store, "noir")
    store.set_moderation(held, Moderation.HELD)
    preview(store, "claymation", backend="wan")  # another family's
    preview(store, "", backend="tiny")  # no style at all
    add_done(store, spec={"prompt": "x", "style": {"name": "vintage", "prompt_suffix": ""}})
    unfinished = generation(owner_id=PREVIEW_OWNER, spec={"style": {"name": "3d"}})
    assert store.add_generation(unfinished)  # still queued

    assert latest_previews(store.engine, "tiny") == {"anime": newest, "ink": ink}
    assert latest_previews(store.engine, "wan").keys() == {"claymation"}
