"""A clip that ends on a picture: /animate's end image (and `reelbot create --end`), checked
the same way wherever it is asked for.

The start picture decides the clip's shape (`intake.modes.framed_for_picture`); the end picture
is center-cropped to that shape by the worker, and the member is told when it is. A loop ends on
its own first frame, so an end picture and `-loop` together are refused rather than one of them
dropped. Which families can end on a picture is `Capabilities.end_frame`.
"""

from __future__ import annotations

from core.capabilities import families_with
from core.errors import FlagError, UserFacingError
from core.flags import ParsedPrompt
from core.spec import RenderSpec

END_KIND = "end.png"  # the end picture's media kind, beside the start picture's "png"


def require_end_frame(capabilities_name: str, end_frame: bool) -> None:
    """Refuse an end picture the loaded family can't end on, naming the families that can,
    before anything is downloaded."""
    if not end_frame:
        raise UserFacingError(
            f"The model loaded right now (`{capabilities_name}`) can't end a clip on a picture. "
            f"Clips end on a picture with these models: {', '.join(families_with('end_frame'))}. "
            "Leave out the end picture to animate yours."
        )


def refuse_loop_with_end(parsed: ParsedPrompt, option: str = "end_image") -> None:
    """A loop ends where it starts: an end picture can't be its end too."""
    if parsed.loop:
        raise FlagError(
            f"`-loop` and `{option}` can't both be given: a loop ends on its own first frame. "
            f"Keep one of them.",
            token="-loop",
        )


def with_end(spec: RenderSpec, start: str, end: str) -> RenderSpec:
    """An image-to-video spec that starts on the stored picture `start` and ends on `end`."""
    return RenderSpec.model_validate(
        {**spec.model_dump(), "mode": "i2v", "input_media": (start, end), "end_frame": True}
    )


def end_note(width: int, height: int, ratio: str) -> str:
    """The line that tells the member what happens to their end picture."""
    w, h = (int(part) for part in ratio.split(":"))
    if abs(width / height - w / h) < 0.01:
        return "It ends on your end picture."
    return (
        f"It ends on your {width}×{height} end picture, center-cropped to {ratio} like the first."
    )
