"""Small builders for gallery rows, shared by the gallery tests."""

from __future__ import annotations

import uuid
from typing import Any

from gallery.models import GenerationCreate
from gallery.store import GalleryStore


def new_id() -> str:
    return uuid.uuid4().hex


def generation(**overrides: Any) -> GenerationCreate:
    """A valid request with the fields a producer fills in; override any of them."""
    values: dict[str, Any] = {
        "id": new_id(),
        "owner_id": "cli:alice",
        "owner_name": "Alice",
        "prompt": "a red fox running through snow",
        "negative_prompt": "blurry",
        "seed": 1234,
        "width": 64,
        "height": 64,
        "num_frames": 16,
        "fps": 8,
        "aspect_ratio": "1:1",
        "camera": "zoom in",
        "motion": 2,
        "backend": "tiny",
    }
    values.update(overrides)
    values.setdefault("spec", {k: v for k, v in values.items() if k not in ("id", "spec")})
    return GenerationCreate.model_validate(values)


def add_done(
    store: GalleryStore, *, media_path: str | None = None, size_bytes: int = 1000, **overrides: Any
) -> str:
    """Record a request and take it through rendering to done; returns its id."""
    new = generation(**overrides)
    assert store.add_generation(new)
    store.mark_rendering(new.id, worker="test-worker", attempt=1)
    path = media_path or f"{new.id[:2]}/{new.id}.mp4"
    assert store.mark_done(new.id, media_path=path, size_bytes=size_bytes, timings={"render": 0.5})
    return new.id
