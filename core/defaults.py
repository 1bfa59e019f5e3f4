"""A member's default flags (`/settings`): read with the `/create` parser, applied where unset.

Defaults are flags only, never prompt text, and never `-seed`: a fixed seed on every request
would make every clip with the same prompt identical, which nobody wants by default (a seed is
given per clip, to repeat one). They fill what a member left out of one request; anything given
inline or as a slash option wins. Pure, like `core.flags`: no discord, redis or database imports.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Mapping

from core.errors import FlagError
from core.flags import ParsedPrompt, parse_flags
from core.flagtext import clean_text, command_texts, value_text
from core.spec import StylePreset
from core.styles import DEFAULT_STYLES

__all__ = ["MAX_DEFAULTS_CHARS", "NO_DEFAULTS", "apply_defaults", "defaults_text", "parse_defaults"]

MAX_DEFAULTS_CHARS = 300  # the gallery's `member.default_flags` column
# Stands in for the prompt, so that the text after it is read exactly as `/create` reads flags.
_PLACEHOLDER = "x"
NO_DEFAULTS = ParsedPrompt(prompt=_PLACEHOLDER)
# Settings a default may fill; the prompt is the request's own, a seed and -loop never defaults.
_APPLIED = tuple(
    field.name
    for field in dataclasses.fields(ParsedPrompt)
    if field.name not in ("prompt", "seed", "loop")
)
_EXAMPLE = "`-ar 9:16 -motion 2`"


def parse_defaults(
    text: str,
    *,
    styles: Mapping[str, StylePreset] = DEFAULT_STYLES,
    max_seconds: float | None = None,
    sound_supported: bool = True,
) -> ParsedPrompt:
    """Default flags as a ParsedPrompt (its prompt is a placeholder), or FlagError naming the
    token: words that are not flags, `-seed`, or anything `/create` itself would refuse."""
    clean = clean_text(text)
    if not clean:
        return NO_DEFAULTS
    if len(clean) > MAX_DEFAULTS_CHARS:
        raise FlagError(
            f"Default flags can be at most {MAX_DEFAULTS_CHARS} characters; these are {len(clean)}."
        )
    parsed = parse_flags(
        f"{_PLACEHOLDER} {clean}",
        styles=styles,
        max_seconds=max_seconds,
        sound_supported=sound_supported,
    )
    if parsed.prompt != _PLACEHOLDER:
        words = parsed.prompt.removeprefix(_PLACEHOLDER).strip()
        raise FlagError(
            f"`{words}` isn't a flag. Defaults are flags only, like {_EXAMPLE}; "
            "the prompt goes into each /create.",
            token=words,
        )
    if parsed.seed is not None:
        raise FlagError(
            "`-seed` can't be a default: every clip of a prompt would come out the same. "
            "Add `-seed N` to a single /create when you want to repeat a clip.",
            token="-seed",
        )
    if parsed.references:
        raise FlagError(
            "`-ref` can't be a default: your characters would be in every clip. Add "
            "`-ref NAME` to the clips they belong in.",
            token="-ref",
        )
    if parsed.loop:
        raise FlagError(
            "`-loop` can't be a default: it would also refuse every /animate with an end "
            "picture. Add `-loop` to the clips you want to loop.",
            token="-loop",
        )
    return parsed


def defaults_text(defaults: ParsedPrompt) -> str:
    """The flags a ParsedPrompt sets, written the canonical way (`-camera acw` → `-camera rotate
    counterclockwise`), so what members see and what is stored read back to the same settings."""
    parts: list[str] = []
    if defaults.negative_prompt:
        # quoted where needed, exactly as a result caption would write it
        parts.append(command_texts(_PLACEHOLDER, defaults.negative_prompt)[len(_PLACEHOLDER) :])
    if defaults.style is not None:
        parts.append(f"-style {defaults.style.name}")
    if defaults.motion is not None:
        parts.append(f"-motion {defaults.motion}")
    if defaults.camera is not None:
        parts.append(f"-camera {defaults.camera}")
    if defaults.aspect_ratio is not None:
        parts.append(f"-ar {defaults.aspect_ratio}")
    if defaults.guidance is not None:
        parts.append(f"-gs {defaults.guidance:g}")
    if defaults.fps is not None:
        parts.append(f"-fps {defaults.fps}")
    if defaults.length is not None:
        parts.append(f"-len {defaults.length:g}")
    if defaults.hidden:
        parts.append("-hide")
    if defaults.sound:
        words = defaults.sound_prompt
        parts.append(f"-sound {value_text(words)}" if words else "-sound")
    if defaults.quality is not None:
        parts.append(f"-{defaults.quality}")
    return " ".join(part.strip() for part in parts)


def apply_defaults(
    parsed: ParsedPrompt, defaults: ParsedPrompt | None, *, given: Collection[str] = ()
) -> ParsedPrompt:
    """`parsed` with every setting it leaves unset taken from `defaults`.

    `given` names ParsedPrompt fields the member set explicitly even though the value looks
    unset (the `hide: False` option), so a default `-hide` does not overrule it.
    """
    if defaults is None:
        return parsed
    changes: dict[str, object] = {}
    for name in _APPLIED:
        if name in given or not _unset(getattr(parsed, name)):
            continue
        default = getattr(defaults, name)
        if not _unset(default):
            changes[name] = default
    return dataclasses.replace(parsed, **changes)  # type: ignore[arg-type]


def _unset(value: object) -> bool:
    """None, empty text or a switch left off. Not `in (None, "", False)`: `0 == False`, and
    `-motion 0` is a real choice."""
    return value is None or value is False or value == ""
