"""The style presets a member can pick with `-style NAME`.

Pure data: a style is only text added to the prompt and the negative prompt, so it works the
same with every backend. A server can pass its own mapping to `core.flags.parse_request`.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from core.spec import StylePreset

_PRESETS = (
    StylePreset(
        name="cinematic",
        prompt_suffix="cinematic film still, shallow depth of field, dramatic lighting, film grain",
        negative="cartoon, flat lighting, amateur, oversaturated",
    ),
    StylePreset(
        name="anime",
        prompt_suffix="anime style, cel shading, clean line art, vibrant colors",
        negative="photorealistic, photo, 3d render, blurry",
    ),
    StylePreset(
        name="3d",
        prompt_suffix="3d render, octane render, soft global illumination, highly detailed",
        negative="flat, 2d, sketch, low poly, noisy",
    ),
    StylePreset(
        name="watercolor",
        prompt_suffix="watercolor painting, soft washes of color, paper texture, loose brushwork",
        negative="photo, 3d render, sharp edges, harsh contrast",
    ),
    StylePreset(
        name="claymation",
        prompt_suffix="claymation, stop motion, handmade plasticine figures, miniature set",
        negative="photorealistic, smooth cgi, anime",
    ),
    StylePreset(
        name="pixel-art",
        prompt_suffix="pixel art, 16-bit retro game, limited palette, crisp pixels",
        negative="blurry, smooth gradients, photorealistic, anti-aliasing",
    ),
    StylePreset(
        name="noir",
        prompt_suffix="film noir, black and white, high contrast, hard shadows, 1940s",
        negative="color, saturated, bright, cheerful",
    ),
    StylePreset(
        name="vintage",
        prompt_suffix="vintage 16mm film footage, faded colors, light leaks, film scratches",
        negative="modern, digital, hdr, oversharpened",
    ),
)

DEFAULT_STYLES: Mapping[str, StylePreset] = MappingProxyType({s.name: s for s in _PRESETS})
"""The shipped styles, keyed by name; read-only so no caller can change another's presets."""
