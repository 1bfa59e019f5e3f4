"""Options and inline flags are two spellings of the same settings.

A member may type `-motion 3` in the prompt, pick `motion: 3` in Discord's form (or send
`"motion": 3` to the REST API), or both. Each option is read by the same value reader as its
flag (same bounds, same messages), then merged: the same setting given both ways must agree, or
the member is told which two disagree.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from core.errors import FlagError
from core.flags import ParsedPrompt, loop_refused
from core.flagvalues import read_value
from core.spec import StylePreset

# slash option name -> (flag name, ParsedPrompt field)
OPTION_FLAGS: dict[str, tuple[str, str]] = {
    "motion": ("motion", "motion"),
    "camera": ("camera", "camera"),
    "negative": ("neg", "negative_prompt"),
    "aspect_ratio": ("ar", "aspect_ratio"),
    "seed": ("seed", "seed"),
    "guidance": ("gs", "guidance"),
    "fps": ("fps", "fps"),
    "length": ("len", "length"),
    "style": ("style", "style"),
    "hide": ("hide", "hidden"),
    "sound": ("sound", "sound"),
    "sound_words": ("sound", "sound_prompt"),  # `--sound WORDS`, the Add sound form's words
    "quality": ("quality", "quality"),  # a choice, fast or hq: the -fast / -hq switch
    "loop": ("loop", "loop"),
}


def _unset(value: object) -> bool:
    """Not given: None, an empty text or a switch left off. Identity checks, so 0 counts."""
    return value is None or value is False or (isinstance(value, str) and not value)


def merge_options(
    parsed: ParsedPrompt,
    options: Mapping[str, object],
    *,
    styles: Mapping[str, StylePreset],
    max_seconds: float | None,
    fast_supported: bool = True,
    loop_supported: bool = True,
    sound_supported: bool = True,
) -> ParsedPrompt:
    """`parsed` with the form's options applied; FlagError when an option contradicts a flag."""
    changes: dict[str, object] = {}
    for option, given in options.items():
        if _unset(given):
            continue
        flag, field = OPTION_FLAGS[option]
        if flag == "loop" and not loop_supported:
            raise loop_refused(f"{option}:")
        if flag == "sound" and not sound_supported:  # as `-sound` is refused
            raise FlagError(
                f"`{option}`: the model loaded right now makes no sound.", token=f"{option}:"
            )
        if isinstance(given, bool):
            value: object = given
        elif flag == "quality":
            value = _quality(str(given), parsed.quality, fast_supported)
        else:
            value = read_value(flag, f"{option}:", str(given), styles, max_seconds)
            if flag == "camera":
                value = str(value)
        inline = getattr(parsed, field)
        if not _unset(inline) and inline != value:
            raise FlagError(
                f"The prompt says `-{flag} {_show(inline)}` but the `{option}` option says "
                f"`{_show(value)}`. Keep one of them.",
                token=f"-{flag}",
            )
        changes[field] = value
    return dataclasses.replace(parsed, **changes)  # type: ignore[arg-type]


def _quality(given: str, inline: str | None, fast_supported: bool) -> str:
    """The `quality` choice, checked as `-fast` / `-hq` are (a choice, so always one of them)."""
    if given == "fast" and not fast_supported:
        raise FlagError(
            "`quality: fast`: the model loaded right now has no fast tier; leave it out and "
            "the clip renders on its full schedule.",
            token="quality:",
        )
    if inline is not None and inline != given:
        raise FlagError(
            f"The prompt says `-{inline}` but the `quality` option says `{given}`. "
            "Keep one of them.",
            token=f"-{inline}",
        )
    return given


def _show(value: object) -> str:
    if isinstance(value, StylePreset):
        return value.name
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
