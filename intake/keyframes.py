"""Keyframes (`/frames`, `reelbot create --frames`): 2-5 pictures, one clip passing through each,
checked the same way wherever it is asked for.

The first picture decides the clip's shape (`intake.modes.framed_for_picture`); the others are
center-cropped to it by the worker. The prompt is split on `|` into one segment per transition
(`core.frames.segments`); a wrong count is refused before anything is downloaded, naming what was
given and what is allowed. A keyframes clip ends on its last picture, so `-loop` is refused with
it. Which families can is `Capabilities.frames`.
"""

from __future__ import annotations

from collections.abc import Sequence

from core.capabilities import families_with
from core.errors import FlagError, UserFacingError
from core.flags import ParsedPrompt
from core.frames import MAX_PICTURES, MIN_PICTURES, segments
from core.rendercaps import Capabilities
from core.spec import RenderSpec


def require_frames(capabilities: Capabilities) -> None:
    """Refuse keyframes the loaded family can't render, naming those that can, up front."""
    if not capabilities.frames:
        raise UserFacingError(
            f"The model loaded right now (`{capabilities.name}`) can't pass a clip through "
            f"several pictures. Keyframes work with these models: "
            f"{', '.join(families_with('frames'))}. Use /animate to bring one picture to life."
        )


def check_request(parsed: ParsedPrompt, pictures: int) -> list[str]:
    """The transitions' prompt segments for `pictures` pictures, or the member is told what is
    wrong (too few or many pictures, a wrong number of segments, `-loop`)."""
    if not MIN_PICTURES <= pictures <= MAX_PICTURES:
        raise UserFacingError(
            f"Keyframes take {MIN_PICTURES} to {MAX_PICTURES} pictures; you gave {pictures}."
        )
    if parsed.loop:
        raise FlagError(
            "`-loop` can't be used with keyframes: the clip ends on your last picture. "
            "Remove `-loop`.",
            token="-loop",
        )
    try:
        return segments(parsed.prompt, pictures)
    except ValueError:
        given = len(parsed.prompt.split("|"))
        raise UserFacingError(
            f"Your prompt has {given} parts split by `|` for {pictures} pictures. Give "
            f'{pictures - 1} (one for each change between pictures, like "dawn | noon" for '
            "3 pictures), or one prompt for the whole clip, with no empty parts."
        ) from None


def with_frames(spec: RenderSpec, stored: Sequence[str]) -> RenderSpec:
    """A keyframes spec passing through the stored pictures, in order."""
    return RenderSpec.model_validate(
        {**spec.model_dump(), "mode": "frames", "input_media": tuple(stored)}
    )


def frames_note(pictures: int) -> str:
    """The line that tells the member where their pictures go."""
    return (
        f"It passes through your {pictures} pictures in order, evenly spaced, each cropped to "
        "the first one's shape."
    )
