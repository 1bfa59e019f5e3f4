"""What a picture or a video settles about a clip, the same for `/animate` and `/restyle` in
Discord as for an upload to the REST API.

A picture decides the clip's shape: its aspect ratio is snapped to the nearest common one and
the worker center-crops to it, unless the member asks for another with `-ar`; with no prompt
the model is told "animate this image" (`DEFAULT_PROMPT`). A video decides shape and length;
`-camera` and `-motion` would fight its own movement, so they are refused rather than ignored.
"""

from __future__ import annotations

import dataclasses

from core.errors import FlagError, UserFacingError
from core.flags import ParsedPrompt
from core.flagtext import clean_text, flag_tokens
from core.rendercaps import Capabilities
from core.spec import Quality, RenderSpec
from intake.fleet import FleetChoice
from intake.followups import Owner, build_spec
from intake.media.images import framing_note, nearest_ratio
from intake.media.video_info import VideoInfo
from intake.media.videos import clip_frames, length_note

DEFAULT_PROMPT = "animate this image"
# What the picture settles itself, so no /settings default fills it: its aspect ratio.
PICTURE_DECIDES = ("aspect_ratio",)
# ParsedPrompt fields a /settings default must not fill for a video: the video decides them.
VIDEO_DECIDES = ("aspect_ratio", "length", "camera", "motion")


def require_mode(capabilities: Capabilities, mode: str, doing: str) -> None:
    """Refuse a command the loaded model can't serve before anything is read or downloaded."""
    if mode not in capabilities.modes:
        raise UserFacingError(
            f"The model loaded right now (`{capabilities.name}`) can't {doing}. "
            "Use /create to make a clip from a prompt."
        )


async def serving_family(
    fleet: FleetChoice, main: Capabilities, mode: str, doing: str
) -> Capabilities:
    """The family that serves `mode` in this fleet (the main one when it does, or when no worker
    was ever seen), refused as `require_mode` refuses when it can't; a UserFacingError naming
    the missing worker when no family of the fleet offers the mode."""
    capabilities = await fleet.family_for(mode, main)
    require_mode(capabilities, mode, doing)
    return capabilities


def animate_prompt(text: str | None) -> str:
    """The prompt text to parse: `DEFAULT_PROMPT` in front when the member described nothing."""
    clean = clean_text(text or "")
    tokens = flag_tokens(clean)
    described = clean[: tokens[0].start].strip() if tokens else clean
    return clean if described else f"{DEFAULT_PROMPT} {clean}".strip()


def refuse_movement(parsed: ParsedPrompt) -> None:
    """-camera and -motion would fight the video's own movement: say so rather than ignore."""
    for field, flag in (("camera", "-camera"), ("motion", "-motion")):
        if getattr(parsed, field) is not None:
            raise FlagError(
                f"/restyle keeps your video's own camera and motion, so `{flag}` can't be used "
                "with it. Remove it, or use /create or /animate for a new camera move.",
                token=flag,
            )


def framed_for_picture(parsed: ParsedPrompt, width: int, height: int) -> tuple[ParsedPrompt, str]:
    """The request in the picture's shape, and the line that tells the member how it was
    framed ("" when it fits as is)."""
    asked = parsed.aspect_ratio is not None
    ratio = parsed.aspect_ratio or nearest_ratio(width, height)
    note = framing_note(width, height, ratio, asked=asked)
    return dataclasses.replace(parsed, aspect_ratio=ratio), note


def fitted_to_video(
    parsed: ParsedPrompt,
    info: VideoInfo,
    asker: Owner,
    capabilities: Capabilities,
    default_quality: Quality,
) -> tuple[RenderSpec, int, str]:
    """The spec in the video's shape, the frames its length gives, and the lines that tell the
    member how it was fitted."""
    asked_ratio = parsed.aspect_ratio is not None
    ratio = parsed.aspect_ratio or nearest_ratio(info.width, info.height)
    framed = dataclasses.replace(parsed, aspect_ratio=ratio)
    spec = build_spec(framed, asker, capabilities, default_quality=default_quality)
    frames = clip_frames(
        info.duration_s, spec.fps, asked=parsed.length, max_s=capabilities.max_seconds
    )
    notes = [
        framing_note(info.width, info.height, ratio, asked=asked_ratio, noun="video"),
        length_note(
            info.duration_s, frames / spec.fps, asked=parsed.length, max_s=capabilities.max_seconds
        ),
    ]
    return spec, frames, "\n".join(n for n in notes if n)
