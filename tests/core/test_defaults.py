"""Default flags from /settings: read strictly, written canonically, applied only where unset."""

from __future__ import annotations

import dataclasses

import pytest

from core.defaults import NO_DEFAULTS, apply_defaults, defaults_text, parse_defaults
from core.errors import FlagError
from core.flags import parse_flags
from core.styles import DEFAULT_STYLES


def defaults(text: str):
    return parse_defaults(text, styles=DEFAULT_STYLES, max_seconds=4.0, sound_supported=False)


@pytest.mark.parametrize(
    "text, field, expected",
    [
        ("-ar 9:16", "aspect_ratio", "9:16"),
        ("-motion 0", "motion", 0),
        ("-motion 2", "motion", 2),
        ("-camera acw", "camera", "rotate counterclockwise"),
        ("-neg text, watermark", "negative_prompt", "text, watermark"),
        ("-gs 16", "guidance", 16.0),
        ("-fps 12", "fps", 12),
        ("-len 3s", "length", 3.0),
        ("-hide", "hidden", True),
        ("-style anime", "style", DEFAULT_STYLES["anime"]),
    ],
)
def test_each_flag_can_be_a_default(text, field, expected) -> None:
    assert getattr(defaults(text), field) == expected


@pytest.mark.parametrize("text", ["", "   ", "\u200b"])
def test_no_text_is_no_defaults(text) -> None:
    assert defaults(text) == NO_DEFAULTS


@pytest.mark.parametrize(
    "text, token, mentions",
    [
        ("cinematic -ar 9:16", "cinematic", ["isn't a flag", "flags only"]),
        ("a fox", "a fox", ["isn't a flag"]),
        ("-ar 9:16 -seed 7", "-seed", ["every clip", "-seed N"]),
        ("-motion 9", "-motion 9", ["0 to 4"]),
        ("-camrea zoom in", "-camrea", ["-camera"]),
        ("-ar 9:16 -ar 1:1", "-ar", ["twice"]),
        ("-len 9", "-len 9", ["1 to 4"]),
        ("-sound", "-sound", ["no sound"]),
        ("-style nope", "-style nope", ["isn't a style"]),
        ("-hide please", "-hide please", ["takes no value"]),
    ],
)
def test_bad_defaults_name_the_token(text, token, mentions) -> None:
    with pytest.raises(FlagError) as error:
        defaults(text)
    assert error.value.token == token
    for word in mentions:
        assert word in str(error.value)


def test_too_long_defaults_are_refused() -> None:
    with pytest.raises(FlagError, match="at most 300"):
        defaults("-neg " + "x" * 300)


@pytest.mark.parametrize(
    "text, canonical",
    [
        ("-motion 2   -ar 9:16", "-motion 2 -ar 9:16"),
        ("-camera ccw -ar 9:16 -motion 0", "-motion 0 -camera rotate counterclockwise -ar 9:16"),
        ("-gs 12.5 -fps 12 -len 3s -hide", "-gs 12.5 -fps 12 -len 3 -hide"),
        ("-style anime -neg text, watermark", "-neg text, watermark -style anime"),
        ('-neg "blurry -motion" -motion 1', '-neg "blurry -motion" -motion 1'),
        ("", ""),
    ],
)
def test_defaults_are_written_canonically_and_read_back(text, canonical) -> None:
    written = defaults_text(defaults(text))
    assert written == canonical
    assert defaults(written) == defaults(text)


BASE = defaults("-ar 9:16 -motion 2 -camera zoom in -neg blurry -gs 16 -fps 12 -len 3 -hide")


@pytest.mark.parametrize(
    "request_text, given, expected",
    [
        # nothing given: every default applies
        (
            "a fox",
            (),
            {"aspect_ratio": "9:16", "motion": 2, "camera": "zoom in", "negative_prompt": "blurry"},
        ),
        ("a fox", (), {"guidance": 16.0, "fps": 12, "length": 3.0, "hidden": True}),
        # what the request gives wins, setting by setting
        ("a fox -ar 1:1", (), {"aspect_ratio": "1:1", "motion": 2}),
        ("a fox -motion 0", (), {"motion": 0, "aspect_ratio": "9:16"}),
        ("a fox -neg text", (), {"negative_prompt": "text", "camera": "zoom in"}),
        ("a fox -camera static -fps 24", (), {"camera": "static", "fps": 24, "length": 3.0}),
        # `hide: False` as a slash option keeps a default -hide off
        ("a fox", ("hidden",), {"hidden": False, "aspect_ratio": "9:16"}),
        # the request's own prompt and seed are never touched
        ("a fox -seed 5", (), {"prompt": "a fox", "seed": 5}),
    ],
)
def test_defaults_fill_only_what_the_request_leaves_unset(request_text, given, expected) -> None:
    applied = apply_defaults(parse_flags(request_text), BASE, given=given)
    assert {name: getattr(applied, name) for name in expected} == expected


@pytest.mark.parametrize("member_defaults", [None, NO_DEFAULTS])
def test_no_defaults_change_nothing(member_defaults) -> None:
    parsed = parse_flags("a fox -motion 3 -hide")
    assert apply_defaults(parsed, member_defaults) == parsed


def test_a_default_seed_is_never_applied_even_if_one_slipped_in() -> None:
    sneaky = dataclasses.replace(BASE, seed=42)
    assert apply_defaults(parse_flags("a fox"), sneaky).seed is None
