"""Hidden-message clips, as the front ends ask for them: /encrypt_text, /encrypt_image and
`reelbot create --encrypt-text` (the REST API does not offer them yet).

A request is read as `/create` reads it (flags, /settings defaults), then becomes mode
"illusion": the message (at most `MAX_ILLUSION_CHARS`, as Pika's bot) or the member's checked
picture, and how strongly it shows. The message is screened like a prompt (`intake.screening`),
before any download. Only families with the mode render it (AnimateDiff, through a ControlNet:
`worker.illusion`); any other is refused before anything is read, naming them.
"""

from __future__ import annotations

from pydantic import ValidationError

from core.capabilities import FAMILIES
from core.errors import FlagError, UserFacingError
from core.rendercaps import Capabilities
from core.spec import MAX_ILLUSION_CHARS, IllusionFont, RenderSpec

DEFAULT_STRENGTH = 1.0
MIN_STRENGTH = 0.5
MAX_STRENGTH = 2.0


def illusion_families() -> list[str]:
    """The built-in families that hide a message, by name."""
    return sorted(name for name, caps in FAMILIES.items() if "illusion" in caps.modes)


def require_illusion(capabilities: Capabilities) -> None:
    """Refuse up front where the loaded model can't hide a message, naming those that can."""
    if "illusion" not in capabilities.modes:
        raise UserFacingError(
            f"The model loaded right now (`{capabilities.name}`) can't hide a message in a clip; "
            f"the {', '.join(illusion_families())} model can (the operator sets "
            "REELBOT_BACKEND to it). Use /create for a plain clip."
        )


def clean_message(message: str) -> str:
    """The message as it will be drawn: spaces collapsed; empty or too long is refused."""
    text = " ".join(message.split())
    if not text:
        raise FlagError("Give a word or a few characters to hide in the clip.")
    if len(text) > MAX_ILLUSION_CHARS:
        raise FlagError(
            f"Your message is {len(text)} characters; a clip hides at most "
            f"{MAX_ILLUSION_CHARS}. Try a shorter word (like `GM`)."
        )
    return text


def with_hidden(
    spec: RenderSpec,
    *,
    message: str = "",
    picture: str = "",
    strength: float | None = None,
    font: IllusionFont | None = None,
) -> RenderSpec:
    """`spec` (read as /create reads it) made to hide `message`, or the stored `picture`."""
    if bool(message) == bool(picture):
        raise ValueError("with_hidden takes a message or a picture, not both or neither")
    if spec.loop or spec.end_frame:
        raise FlagError("A clip with a hidden message can't loop or end on a picture.")
    if spec.mode != "t2v":
        raise FlagError("A hidden message goes in a clip made from a prompt.")
    changes: dict[str, object] = {"mode": "illusion", "input_media": (picture,) if picture else ()}
    if message:
        changes["illusion_text"] = clean_message(message)
        if font is not None:
            changes["illusion_font"] = font
    elif font is not None:
        raise FlagError("A font is for a message; a picture is hidden as it is.")
    if strength is not None:
        if not MIN_STRENGTH <= strength <= MAX_STRENGTH:
            raise FlagError(
                f"strength is {strength:g}; it goes from {MIN_STRENGTH:g} (faint) to "
                f"{MAX_STRENGTH:g} (strong), {DEFAULT_STRENGTH:g} by default."
            )
        changes["illusion_strength"] = strength
    try:
        return RenderSpec.model_validate({**spec.model_dump(), **changes})
    except ValidationError as exc:
        raise FlagError(f"These settings can't be rendered ({exc.errors()[0]['msg']}).") from None
