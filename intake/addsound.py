"""🔊 Add sound: a child of a finished clip that is its video with a new sound track.

The child is a request like any other (the policy reads its sound words as it reads a prompt,
the caps, the fair queue, the output scan and delivery all apply), in mode "sound": its one
input is the parent's finished MP4, and the worker copies that video stream as it is beside a
new track (`worker.sound`, `worker.remux`), so no frame is rendered again. It keeps the parent's
settings (read back from the parent's line, as a reroll does) and exact size, length and frame
rate; only the sound is new: the member's words (or the clip's prompt) with a new seed.
Shared by Discord's button and any other front end that offers it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping

from pydantic import ValidationError

from core.commandline import to_command_line
from core.errors import FlagError, UserFacingError
from core.flags import random_seed
from core.flagtext import clean_text
from core.flagvalues import check_length
from core.rendercaps import Capabilities
from core.speak import SPEAKING
from core.spec import DEFAULT_QUALITY, MAX_SOUND_CHARS, Quality, RenderSpec, StylePreset
from intake.followups import Owner, build_spec, other_seed, read_text


def add_sound_spec(
    parent: RenderSpec,
    parent_id: str,
    asker: Owner,
    capabilities: Capabilities,
    styles: Mapping[str, StylePreset],
    *,
    words: str = "",
    parent_media: str | None = None,
    seed_source: Callable[[], int] = random_seed,
    default_quality: Quality = DEFAULT_QUALITY,
) -> RenderSpec:
    """The Add sound child of `parent` for `asker`: `words` (empty: the clip's prompt) made
    into a track for the parent's finished video (`parent_media`)."""
    if not capabilities.adds_sound:
        raise UserFacingError("The model loaded right now can't add sound to clips.")
    if not parent_media:
        raise UserFacingError("This clip has no finished video to add sound to yet.")
    if parent.mode in SPEAKING:  # its sound is the voice the picture speaks
        raise UserFacingError(
            "This clip's sound is the voice it speaks, so a new track would drop it. Use /speak "
            "again with another voice or line instead."
        )
    words = clean_text(words)
    check_length("Your sound words", words, "sound", MAX_SOUND_CHARS)
    line = to_command_line(parent, capabilities=capabilities, default_quality=default_quality)
    parsed = dataclasses.replace(
        read_text(line, capabilities, styles),
        seed=None,  # a new sound, never the parent's seed
        camera=None,  # the parent's frames carry its camera move
        loop=False,
        sound=True,
        sound_prompt=words,
    )
    if asker.guild_id is None:  # made in DMs: private, as /create there
        parsed = dataclasses.replace(parsed, hidden=True)

    spec = build_spec(
        parsed,
        asker,
        capabilities,
        parent_id=parent_id,
        seed_source=other_seed(parent.seed, seed_source),  # a new sound, never the parent's
        default_quality=default_quality,
    )
    the_parents = {
        "mode": "sound",
        "input_media": (parent_media,),
        "width": parent.width,
        "height": parent.height,
        "num_frames": parent.num_frames,
        "fps": parent.fps,
    }
    try:
        return RenderSpec.model_validate({**spec.model_dump(), **the_parents})
    except ValidationError as exc:
        raise FlagError(f"Sound can't be added here ({exc.errors()[0]['msg']}).") from None
