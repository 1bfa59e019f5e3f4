"""A model's capabilities for the parser tests, fixed here so they never follow the tiny model."""

from __future__ import annotations

from core.rendercaps import Capabilities

CAPS = Capabilities(
    name="tiny",
    native_pixels=256 * 256,
    size_multiple=32,
    native_fps=8,
    default_seconds=2,
    max_seconds=4,
    default_steps=4,
    guidance_range=(1.0, 5.0),
)
SOUND_CAPS = CAPS.model_copy(update={"name": "talkie", "sound": True})
