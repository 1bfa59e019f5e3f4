"""Reading and checking each flag's value: numbers, ratios, camera moves and styles.

Every check raises `FlagError` with the token as typed, what is allowed and, where one is close,
a suggestion; nothing is silently clamped or corrected. Pure, like `core.flags`.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from typing import get_args

from core.characters import REF_ALLOWED, read_references
from core.errors import FlagError
from core.flagtext import read_text
from core.spec import (
    MAX_ASPECT,
    MAX_FPS,
    MAX_GUIDANCE,
    MAX_MOTION,
    MAX_PROMPT_CHARS,
    MAX_SEED,
    MAX_SOUND_CHARS,
    MIN_ASPECT,
    MIN_FPS,
    MIN_GUIDANCE,
    MIN_MOTION,
    Camera,
    StylePreset,
)
from core.stylefile import StyleMenu

MIN_SECONDS = 1.0
PROMPT_FIRST = "Words for the prompt go before the first flag."

# Every flag and what it accepts, in the words shown to members; the order is the help order.
ALLOWED: dict[str, str] = {
    "motion": f"a whole number from {MIN_MOTION} to {MAX_MOTION}",
    "camera": (
        "zoom in, zoom out, pan left/right/up/down, pan up left/up right/down left/down right, "
        "rotate clockwise/counterclockwise (or cw, ccw, acw), static"
    ),
    "neg": 'text to keep out of the clip, like -neg "text, watermark"',
    "ar": "W:H in whole numbers from 2:5 (tall) to 5:2 (wide), like 16:9, 9:16, 1:1 or 4:5",
    "seed": f"a whole number from 0 to {MAX_SEED}",
    "gs": f"a number from {MIN_GUIDANCE:g} to {MAX_GUIDANCE:g}",
    "fps": f"a whole number from {MIN_FPS} to {MAX_FPS}",
    "len": "a number of seconds from 1 to the model's maximum",
    "hide": "nothing after it",
    "style": "a style name",
    "sound": 'nothing, or the words to make it from, like -sound "rain on a tin roof"',
    "fast": "nothing after it; not with -hq",
    "hq": "nothing after it; not with -fast",
    "loop": "nothing after it: the clip's last frame meets its first",
    "ref": REF_ALLOWED,
}
_NOUNS = {
    "motion": "motion strength",
    "seed": "seed",
    "gs": "guidance scale",
    "fps": "frame rate",
    "len": "length",
}

_WHOLE = re.compile(r"[0-9]{1,12}")
_DECIMAL = re.compile(r"[0-9]{1,6}(?:\.[0-9]{0,6})?|\.[0-9]{1,6}")
_RATIO = re.compile(r"([0-9]{1,5}):([0-9]{1,5})")
_RATIO_TYPO = re.compile(r"([0-9]{1,5}) ?[xX×/] ?([0-9]{1,5})")


def read_value(
    name: str, flag: str, raw: str, styles: Mapping[str, StylePreset], max_seconds: float | None
) -> object:
    """One flag's value, checked; `raw` is the non-empty text up to the next flag."""
    text = read_text(raw)
    value = raw if text is None else text
    shown = f"{flag} {raw}"
    if not value:
        raise FlagError(f"`{shown}` is empty.", token=shown, allowed=ALLOWED[name])
    if name == "neg":
        check_length(f"`{flag}`", value, shown)
        return value
    if name == "sound":  # a sound track's words: short, like a prompt
        check_length(f"`{flag}`", value, shown, MAX_SOUND_CHARS)
        return value
    if name == "camera":
        return _read_camera(shown, value)
    if name == "style":
        return _read_style(shown, value, styles)
    if name == "ref":  # saved characters' names, checked against the store by the front end
        return read_references(shown, value)
    if value == raw and " " in raw:
        raise FlagError(
            f"`{shown}`: `{flag}` takes one value, not `{raw}`. {PROMPT_FIRST}",
            token=shown,
            allowed=ALLOWED[name],
        )
    if name == "ar":
        return _read_ratio(shown, value)
    if name in ("motion", "seed", "fps"):
        low, high = {"motion": (MIN_MOTION, MAX_MOTION), "seed": (0, MAX_SEED)}.get(
            name, (MIN_FPS, MAX_FPS)
        )
        if _WHOLE.fullmatch(value) and low <= int(value) <= high:
            return int(value)
        raise _bad_value(name, shown, ALLOWED[name])
    if name == "gs":
        number = _decimal(value)
        if number is not None and MIN_GUIDANCE <= number <= MAX_GUIDANCE:
            return number
        raise _bad_value(name, shown, ALLOWED[name])
    # -len: seconds, "3s" reads as 3.
    number = _decimal(value[:-1] if value[-1:] in ("s", "S") else value)
    top = f"{max_seconds:g}" if max_seconds is not None else "the model's maximum"
    if (
        number is not None
        and number >= MIN_SECONDS
        and (max_seconds is None or number <= max_seconds)
    ):
        return number
    raise _bad_value(name, shown, f"a number of seconds from 1 to {top}")


def _decimal(text: str) -> float | None:
    return float(text) if _DECIMAL.fullmatch(text) else None


def _read_ratio(shown: str, value: str) -> str:
    match = _RATIO.fullmatch(value)
    if match is None:
        typo = _RATIO_TYPO.fullmatch(value)
        suggestion = f"{typo[1]}:{typo[2]}" if typo else None
        raise FlagError(
            f"`{shown}` isn't an aspect ratio.",
            token=shown,
            allowed=ALLOWED["ar"],
            suggestion=suggestion,
        )
    width, height = int(match[1]), int(match[2])
    if width == 0 or height == 0:
        raise FlagError(
            f"`{shown}` needs two positive numbers.", token=shown, allowed=ALLOWED["ar"]
        )
    if not MIN_ASPECT <= width / height <= MAX_ASPECT:
        shape = "wide" if width / height > MAX_ASPECT else "tall"
        raise FlagError(f"`{shown}` is too {shape}.", token=shown, allowed=ALLOWED["ar"])
    return f"{width}:{height}"


def _read_style(shown: str, value: str, styles: Mapping[str, StylePreset]) -> StylePreset:
    by_name = {preset.name.lower(): preset for preset in styles.values()}
    by_name |= {key.lower(): preset for key, preset in styles.items()}
    found = by_name.get(value.lower())
    if found is not None:
        return found
    if isinstance(styles, StyleMenu) and (lacked := styles.refusal(value, shown)):
        raise lacked  # a style of the styles file that this family has no LoRA for
    if not styles:
        raise FlagError(f"`{shown}`: no styles are set up on this server.", token=shown)
    names = sorted({preset.name for preset in styles.values()})
    raise FlagError(
        f"`{shown}` isn't a style here.",
        token=shown,
        allowed=", ".join(names),
        suggestion=closest(value.lower(), {n.lower(): n for n in names}),
    )


# --- camera moves -------------------------------------------------------------------------

CAMERAS: dict[str, Camera] = {move: move for move in get_args(Camera)}
_TURNS = {
    "clockwise": "clockwise",
    "cw": "clockwise",
    "counterclockwise": "counterclockwise",
    "anticlockwise": "counterclockwise",
    "ccw": "counterclockwise",
    "acw": "counterclockwise",
}
_VERTICAL = ("up", "down")
_HORIZONTAL = ("left", "right")
# Every accepted spelling, to find the closest canonical move for a typo.
_CAMERA_SPELLINGS = (
    dict(CAMERAS)
    | {word: f"rotate {turn}" for word, turn in _TURNS.items()}
    | {f"rotate {word}": f"rotate {turn}" for word, turn in _TURNS.items()}
)


def _read_camera(shown: str, value: str) -> Camera:
    words = value.lower().split()
    if words[0] == "pan" and 2 <= len(words) <= 3 and set(words[1:]) <= {*_VERTICAL, *_HORIZONTAL}:
        vertical = [word for word in words[1:] if word in _VERTICAL]
        horizontal = [word for word in words[1:] if word in _HORIZONTAL]
        if len(vertical) > 1 or len(horizontal) > 1:
            raise FlagError(
                f"`{shown}`: the camera can pan one way up or down and one way left or right "
                "at most, like `pan up left`.",
                token=shown,
                allowed=ALLOWED["camera"],
            )
        words = ["pan", *vertical, *horizontal]
    elif words[0] == "rotate" and len(words) == 2 and words[1] in _TURNS:
        words = ["rotate", _TURNS[words[1]]]
    elif len(words) == 1 and words[0] in _TURNS:
        words = ["rotate", _TURNS[words[0]]]
    move = CAMERAS.get(" ".join(words))
    if move is None:
        raise FlagError(
            f"`{shown}` isn't a camera move I know.",
            token=shown,
            allowed=ALLOWED["camera"],
            suggestion=closest(" ".join(words), _CAMERA_SPELLINGS),
        )
    return move


# --- helpers ------------------------------------------------------------------------------


def _bad_value(name: str, shown: str, allowed: str) -> FlagError:
    return FlagError(f"`{shown}` isn't a valid {_NOUNS[name]}.", token=shown, allowed=allowed)


def check_length(what: str, text: str, token: str, limit: int = MAX_PROMPT_CHARS) -> None:
    if len(text) > limit:
        raise FlagError(
            f"{what} is {len(text):,} characters long; the limit is {limit:,}.",
            token=token,
        )


def closest(word: str, choices: Mapping[str, str]) -> str | None:
    """The canonical choice whose spelling is nearest to `word`, if any is near enough."""
    found = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return choices[found[0]] if found else None
