"""/speak (`reelbot create --speak/--say`): a picture speaks a voice or a typed line, checked
the same way wherever it is asked for (`core.speak`).

Exactly one of a voice file and a typed line; the line is at most `MAX_SPEAK_CHARS` and is read
by the prompt policy like a prompt (a voice is a person: `intake.screening`). The picture is
checked as /animate's, the voice by its content (`intake.media.voices`). The clip lasts as long
as the voice, which must fit the family's longest clip; a typed line gets the longest clip, and
the worker fits the speech to it.
"""

from __future__ import annotations

import dataclasses
import math

from core.capabilities import FAMILIES
from core.errors import FlagError, UserFacingError
from core.flags import ParsedPrompt
from core.flagtext import clean_text, flag_tokens
from core.rendercaps import Capabilities
from core.speak import MAX_SPEAK_CHARS, SPEAK, VOICE_RULES, voice_seconds_allowed
from core.spec import DEFAULT_FPS, RenderSpec
from core.text import without_bidi

DEFAULT_PROMPT = "a person speaking to the camera"


def speak_prompt(text: str | None) -> str:
    """The prompt text to parse: `DEFAULT_PROMPT` in front when the member described nothing
    (a prompt of flags alone, `-seed 5`, is flags for a speaking picture)."""
    clean = clean_text(text or "")
    tokens = flag_tokens(clean)
    described = clean[: tokens[0].start].strip() if tokens else clean
    return clean if described else f"{DEFAULT_PROMPT} {clean}".strip()


def check_request(has_voice: bool, text: str | None) -> str:
    """The typed line ("" with a voice), or the member is told what to give instead."""
    line = " ".join((text or "").split())
    if has_voice == bool(line):
        raise UserFacingError(
            "Give /speak either a voice file (`audio`) or a line to say (`text`), not both"
            + (" and not neither." if not has_voice else ".")
            + f" Voices: {VOICE_RULES}; lines: up to {MAX_SPEAK_CHARS} characters."
        )
    if len(line) > MAX_SPEAK_CHARS:
        raise UserFacingError(
            f"Your line is {len(line)} characters; /speak says at most {MAX_SPEAK_CHARS}. "
            "Shorten it, or record it and attach the voice file instead."
        )
    return line


def refuse_flags(parsed: ParsedPrompt) -> None:
    """A speaking clip follows its voice: it neither loops nor takes another sound."""
    for on, flag in ((parsed.loop, "-loop"), (parsed.sound, "-sound")):
        if on:
            raise FlagError(
                f"`{flag}` can't be used with /speak: the clip follows your voice, which is "
                f"its sound. Remove `{flag}`.",
                token=flag,
            )


def voice_length(parsed: ParsedPrompt, seconds: float, capabilities: Capabilities) -> ParsedPrompt:
    """The request as long as the voice (to the next frame), or refused when the family's
    clips can't be that long."""
    allowed = voice_seconds_allowed(capabilities.max_seconds)
    if seconds > allowed + 1e-6:
        raise UserFacingError(
            f"Your voice is {seconds:.1f} s; the model here (`{capabilities.name}`) makes "
            f"speaking clips of at most {allowed:g} s. Trim the voice and attach it again."
        )
    fps = parsed.fps or DEFAULT_FPS
    length = max(1.0 / fps, math.ceil(seconds * fps - 1e-6) / fps)
    return dataclasses.replace(parsed, length=length)


def text_length(parsed: ParsedPrompt, capabilities: Capabilities) -> ParsedPrompt:
    """A typed line's clip: the family's longest speaking clip (the speech is fitted to it)."""
    return dataclasses.replace(parsed, length=voice_seconds_allowed(capabilities.max_seconds))


def typed_draft(spec: RenderSpec, line: str) -> RenderSpec:
    """The spec screened before the picture is fetched: the typed line is read by the policy."""
    return RenderSpec.model_validate({**spec.model_dump(), "mode": SPEAK, "speak_text": line})


def with_speech(spec: RenderSpec, picture: str, voice: str | None, line: str) -> RenderSpec:
    """The speak spec over the stored picture and the stored voice (or the typed line)."""
    media = (picture, voice) if voice else (picture,)
    return RenderSpec.model_validate(
        {**spec.model_dump(), "mode": SPEAK, "input_media": media, "speak_text": line}
    )


def speak_note(seconds: float | None, line: str) -> str:
    """The line that tells the member what their picture will say."""
    if seconds is not None:
        return f"Your picture speaks your {seconds:.1f} s voice; it is the clip's sound."
    shown = " ".join(without_bidi(line).replace("`", "'").replace("*", "").split())
    shown = shown if len(shown) <= 80 else shown[:79] + "…"
    return f'Your picture says "{shown}" in a generated voice.'


def speaking_families() -> list[str]:
    """The built-in families that make pictures speak, for refusals."""
    return sorted(name for name, caps in FAMILIES.items() if SPEAK in caps.modes)
