"""The flag language, table-driven: what members type and what they get back."""

from __future__ import annotations

from typing import Any

import pytest

from core.commandline import stored_command_line, to_command_line
from core.errors import FlagError
from core.flags import FLAG_NAMES, parse_flags, parse_request, random_seed
from core.spec import MAX_PROMPT_CHARS, MAX_SEED, RenderSpec, StylePreset
from core.styles import DEFAULT_STYLES
from tests.bot.capabilities import CAPS, SOUND_CAPS


def parse(text: str, **kwargs: Any) -> RenderSpec:
    kwargs.setdefault("capabilities", CAPS)
    kwargs.setdefault("seed_source", lambda: 777)
    return parse_request(text, **kwargs)


def refuse(text: str, **kwargs: Any) -> FlagError:
    with pytest.raises(FlagError) as info:
        parse(text, **kwargs)
    return info.value


# --- defaults ------------------------------------------------------------------------------


def test_a_bare_prompt_gets_the_documented_defaults() -> None:
    spec = parse("a fox running through snow")
    assert spec.prompt == "a fox running through snow"
    assert spec.negative_prompt == ""
    assert spec.aspect_ratio == "16:9"
    assert (spec.width, spec.height) == CAPS.snap_size(16, 9) == (352, 192)
    assert spec.fps == 24
    assert spec.num_frames == 48  # the model's 2 s default at 24 fps
    assert spec.steps == 4
    assert spec.seed == 777
    assert spec.guidance_scale == 12
    assert spec.motion == 1
    assert spec.camera is None
    assert spec.style is None
    assert (spec.hidden, spec.sound) == (False, False)
    assert spec.backend == "tiny"


def test_who_and_where_are_passed_through() -> None:
    spec = parse(
        "a fox",
        backend="other",
        owner_id="42",
        owner_name="Ada",
        guild_id=1,
        channel_id=2,
        parent_id="ab" * 16,
    )
    assert (spec.backend, spec.owner_id, spec.owner_name) == ("other", "42", "Ada")
    assert (spec.guild_id, spec.channel_id, spec.parent_id) == (1, 2, "ab" * 16)


def test_the_owners_name_loses_its_bidi_controls() -> None:
    assert parse("a fox", owner_name="\u202eadA\u202c").owner_name == "adA"


def test_a_stored_prompt_with_bidi_controls_writes_back_without_them() -> None:
    old = {"prompt": "a \u202efox", "negative_prompt": "\u2067blur\u2069", "seed": 3}
    assert stored_command_line(old) == "a fox -neg blur -seed 3"
    spec = parse("a fox -neg blur -seed 3").model_copy(update=old)
    assert to_command_line(spec).startswith("a fox -neg blur")


def test_random_seeds_are_in_range_and_vary() -> None:
    seeds = {random_seed() for _ in range(50)}
    assert all(0 <= s <= MAX_SEED for s in seeds)
    assert len(seeds) > 40


def test_without_a_seed_flag_the_seed_source_decides() -> None:
    assert parse("a fox", seed_source=lambda: 0).seed == 0
    assert parse("a fox", seed_source=lambda: MAX_SEED).seed == MAX_SEED
    assert parse("a fox -seed 5", seed_source=lambda: 9).seed == 5


# --- accepted input -------------------------------------------------------------------------

ACCEPTED: list[tuple[str, dict[str, Any]]] = [
    # -motion: 0-4
    ("a fox -motion 0", {"motion": 0}),
    ("a fox -motion 4", {"motion": 4}),
    ("a fox -motion 04", {"motion": 4}),
    # -neg: free text up to the next flag, quotes optional
    ("a fox -neg blurry, text", {"negative_prompt": "blurry, text"}),
    ('a fox -neg "text, watermark" -motion 2', {"negative_prompt": "text, watermark", "motion": 2}),
    ("a fox -neg “curly -quoted, text”", {"negative_prompt": "curly -quoted, text"}),
    ("a fox -neg 'single -quoted'", {"negative_prompt": "single -quoted"}),
    ("a fox -neg it's blurry", {"negative_prompt": "it's blurry"}),
    ('a fox -neg "unbalanced -motion 2', {"negative_prompt": '"unbalanced', "motion": 2}),
    # -ar: W:H, 0.4 <= W/H <= 2.5, kept as given (not reduced)
    ("a fox -ar 9:16", {"aspect_ratio": "9:16", "width": 192, "height": 352}),
    ("a fox -ar 1:1", {"aspect_ratio": "1:1", "width": 256, "height": 256}),
    ("a fox -ar 32:18", {"aspect_ratio": "32:18"}),
    ("a fox -ar 2:5", {"aspect_ratio": "2:5"}),
    ("a fox -ar 5:2", {"aspect_ratio": "5:2"}),
    ("a fox -ar 016:09", {"aspect_ratio": "16:9"}),
    ("a fox -ar 99999:99999", {"aspect_ratio": "99999:99999"}),
    # -seed: 0 - 2**32-1
    ("a fox -seed 0", {"seed": 0}),
    ("a fox -seed 4294967295", {"seed": 4294967295}),
    # -gs: 8-24 on Pika's scale, stored as given
    ("a fox -gs 8", {"guidance_scale": 8}),
    ("a fox -gs 24", {"guidance_scale": 24}),
    ("a fox -gs 12.5", {"guidance_scale": 12.5}),
    ("a fox -gs 24.0", {"guidance_scale": 24}),
    # -fps: 8-24; the length is then counted in frames at that rate
    ("a fox -fps 8", {"fps": 8, "num_frames": 16}),
    ("a fox -fps 24", {"fps": 24, "num_frames": 48}),
    # -len: 1 to the model's max (4 s here)
    ("a fox -len 1", {"num_frames": 24}),
    ("a fox -len 4", {"num_frames": 96}),
    ("a fox -len 2.5 -fps 8", {"num_frames": 20, "fps": 8}),
    ("a fox -len 3s", {"num_frames": 72}),
    ("a fox -len 1.03 -fps 10", {"num_frames": 10}),
    # switches
    ("a fox -hide", {"hidden": True}),
    ("a fox -hide -motion 3", {"hidden": True, "motion": 3}),
    # names are case-insensitive; --, – and — mean -
    ("a fox -MOTION 3 -Ar 1:1", {"motion": 3, "aspect_ratio": "1:1"}),
    ("a fox --motion 3", {"motion": 3}),
    ("a fox –motion 3", {"motion": 3}),
    ("a fox —motion 3 —hide", {"motion": 3, "hidden": True}),
    # the prompt: text before the first flag, cleaned
    ("  a\tfox\n\nin   snow\x00\x07 -motion 2", {"prompt": "a fox in snow", "motion": 2}),
    ("a\u200bfox", {"prompt": "afox"}),
    ("a sci-fi city, x-ray vision", {"prompt": "a sci-fi city, x-ray vision"}),
    ("a cat - dancing -- wildly", {"prompt": "a cat - dancing -- wildly"}),
    ("a thermometer at -5 degrees -motion 2", {"prompt": "a thermometer at -5 degrees"}),
    ("a fox — running", {"prompt": "a fox — running"}),
    ("the fox's tail", {"prompt": "the fox's tail"}),
    ('a sign that says "-50% -off" -motion 2', {"prompt": 'a sign that says "-50% -off"'}),
    ("a banner: 'sale -today', bright", {"prompt": "a banner: 'sale -today', bright"}),
    ('"a fox in snow" -motion 2', {"prompt": "a fox in snow", "motion": 2}),
    ('a "fox -motion 2', {"prompt": 'a "fox', "motion": 2}),
    ("a “fox” in snow", {"prompt": "a “fox” in snow"}),
    ("x" * MAX_PROMPT_CHARS, {"prompt": "x" * MAX_PROMPT_CHARS}),
    ("a fox -neg " + "y" * MAX_PROMPT_CHARS, {"negative_prompt": "y" * MAX_PROMPT_CHARS}),
]


@pytest.mark.parametrize(("text", "expected"), ACCEPTED)
def test_accepted(text: str, expected: dict[str, Any]) -> None:
    got = parse(text).model_dump(mode="json")
    assert {key: got[key] for key in expected} == expected


CAMERA_SPELLINGS = [
    ("zoom in", "zoom in"),
    ("Zoom  OUT", "zoom out"),
    ("pan left", "pan left"),
    ("pan right", "pan right"),
    ("pan up", "pan up"),
    ("pan down", "pan down"),
    ("pan up left", "pan up left"),
    ("pan left up", "pan up left"),
    ("pan right up", "pan up right"),
    ("pan down left", "pan down left"),
    ("PAN RIGHT DOWN", "pan down right"),
    ("rotate clockwise", "rotate clockwise"),
    ("rotate cw", "rotate clockwise"),
    ("cw", "rotate clockwise"),
    ("clockwise", "rotate clockwise"),
    ("rotate counterclockwise", "rotate counterclockwise"),
    ("rotate anticlockwise", "rotate counterclockwise"),
    ("rotate ccw", "rotate counterclockwise"),
    ("rotate acw", "rotate counterclockwise"),
    ("ccw", "rotate counterclockwise"),
    ("acw", "rotate counterclockwise"),
    ("anticlockwise", "rotate counterclockwise"),
    ("counterclockwise", "rotate counterclockwise"),
    ("static", "static"),
    ('"pan up left"', "pan up left"),
]


@pytest.mark.parametrize(("given", "canonical"), CAMERA_SPELLINGS)
def test_camera_spellings_read_as_the_canonical_move(given: str, canonical: str) -> None:
    assert parse(f"a windmill -camera {given} -motion 2").camera == canonical


def test_styles_are_looked_up_case_insensitively() -> None:
    assert parse("a fox -style anime").style == DEFAULT_STYLES["anime"]
    assert parse("a fox -style Pixel-Art").style == DEFAULT_STYLES["pixel-art"]
    custom = {"neon": StylePreset(name="neon", prompt_suffix="neon glow")}
    spec = parse("a fox -style NEON", styles=custom)
    assert spec.full_prompt() == "a fox, neon glow"


def test_shipped_styles_are_keyed_by_their_names() -> None:
    assert len(DEFAULT_STYLES) >= 6
    for key, preset in DEFAULT_STYLES.items():
        assert key == preset.name
        assert preset.prompt_suffix and preset.negative


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("a campfire -sound", ""),
        ('a campfire -sound "crackling fire, crickets" -seed 2', "crackling fire, crickets"),
        ("a campfire -sound crackling fire -hide", "crackling fire"),
        ('a sale sign -sound "a voice says -50% off"', "a voice says -50% off"),
    ],
)
def test_sound_may_carry_the_words_it_is_made_from(text: str, words: str) -> None:
    spec = parse(text, capabilities=SOUND_CAPS)
    assert (spec.sound, spec.sound_prompt) == (True, words)
    line = to_command_line(spec)
    assert parse(line, capabilities=SOUND_CAPS) == spec  # the caption makes the same clip
    if " " in words:
        assert f'-sound "{words}"' in line


def test_sound_words_are_bounded_and_need_a_model_that_makes_sound() -> None:
    err = refuse(f"a campfire -sound {'crackle ' * 40}", capabilities=SOUND_CAPS)
    assert "`-sound`" in str(err) and "300" in str(err)
    err = refuse("a campfire -sound crackling")
    assert "no sound" in str(err)


def test_sound_needs_a_model_that_makes_sound() -> None:
    assert parse("a drum solo -sound", capabilities=SOUND_CAPS).sound is True
    assert parse("a drum solo -sound", capabilities=SOUND_CAPS).backend == "talkie"
    err = refuse("a drum solo -sound")
    assert "-sound" in str(err) and "no sound" in str(err)


# --- refused input -------------------------------------------------------------------------

# (text, words the message must contain, the token it must name)
REFUSED: list[tuple[str, list[str], str]] = [
    # an empty prompt
    ("", ["Describe the clip"], ""),
    ("   \n\t ", ["Describe the clip"], ""),
    ("-motion 2 a fox", ["Describe the clip"], ""),
    ('"" -motion 2', ["Describe the clip"], ""),
    ("\x00\x01\x02", ["Describe the clip"], ""),
    # too long
    ("x" * (MAX_PROMPT_CHARS + 1), ["1,501", "1,500"], "prompt"),
    ("a fox -neg " + "y" * (MAX_PROMPT_CHARS + 1), ["-neg", "1,501", "1,500"], ""),
    # -motion
    ("a fox -motion 5", ["`-motion 5`", "0 to 4"], "-motion 5"),
    ("a fox -motion -1", ["`-motion -1`", "0 to 4"], "-motion -1"),
    ("a fox -motion 2.5", ["-motion 2.5", "whole number"], "-motion 2.5"),
    ("a fox -motion three", ["-motion three"], "-motion three"),
    ("a fox -motion ٣", ["-motion ٣"], "-motion ٣"),
    ("a fox -motion 3 fast", ["`-motion 3 fast`", "one value", "before the first flag"], ""),
    # -ar
    ("a fox -ar 3:1", ["`-ar 3:1`", "too wide", "5:2"], "-ar 3:1"),
    ("a fox -ar 1:3", ["`-ar 1:3`", "too tall", "2:5"], "-ar 1:3"),
    ("a fox -ar 251:100", ["too wide"], "-ar 251:100"),
    ("a fox -ar 39:100", ["too tall"], "-ar 39:100"),
    ("a fox -ar 0:1", ["`-ar 0:1`"], "-ar 0:1"),
    ("a fox -ar 16:0", ["`-ar 16:0`"], "-ar 16:0"),
    ("a fox -ar 16x9", ["`-ar 16x9`", "Did you mean `16:9`"], "-ar 16x9"),
    ("a fox -ar wide", ["`-ar wide`", "16:9"], "-ar wide"),
    ("a fox -ar 16:9:1", ["`-ar 16:9:1`"], "-ar 16:9:1"),
    ("a fox -ar 1.5:1", ["`-ar 1.5:1`"], "-ar 1.5:1"),
    ("a fox -ar 123456:123456", ["`-ar 123456:123456`"], "-ar 123456:123456"),
    # -seed
    ("a fox -seed 4294967296", ["`-seed 4294967296`", "4294967295"], "-seed 4294967296"),
    ("a fox -seed -1", ["`-seed -1`"], "-seed -1"),
    ("a fox -seed 1.5", ["`-seed 1.5`"], "-seed 1.5"),
    ("a fox -seed " + "9" * 5000, ["-seed 999"], ""),
    # -gs
    ("a fox -gs 7.99", ["`-gs 7.99`", "8 to 24"], "-gs 7.99"),
    ("a fox -gs 24.01", ["`-gs 24.01`", "8 to 24"], "-gs 24.01"),
    ("a fox -gs nan", ["`-gs nan`"], "-gs nan"),
    ("a fox -gs 1e1", ["`-gs 1e1`"], "-gs 1e1"),
    ("a fox -gs 1_2", ["`-gs 1_2`"], "-gs 1_2"),
    # -fps
    ("a fox -fps 7", ["`-fps 7`", "8 to 24"], "-fps 7"),
    ("a fox -fps 25", ["`-fps 25`", "8 to 24"], "-fps 25"),
    ("a fox -fps 12.5", ["`-fps 12.5`"], "-fps 12.5"),
    # -len (max 4 s for this model)
    ("a fox -len 0.99", ["`-len 0.99`", "1 to 4"], "-len 0.99"),
    ("a fox -len 4.01", ["`-len 4.01`", "1 to 4"], "-len 4.01"),
    ("a fox -len long", ["`-len long`"], "-len long"),
    # -camera
    ("a fox -camera pan leftt", ["-camera", "pan leftt", "did you mean `pan left`", "static"], ""),
    ("a fox -camera pan left right", ["`-camera pan left right`", "pan up left"], ""),
    ("a fox -camera pan up down", ["`-camera pan up down`"], "-camera pan up down"),
    ("a fox -camera pan left left", ["`-camera pan left left`"], "-camera pan left left"),
    ("a fox -camera zoom", ["`-camera zoom`", "zoom in"], "-camera zoom"),
    ("a fox -camera zoom in pan left", ["`-camera zoom in pan left`"], ""),
    ("a fox -camera rotate", ["`-camera rotate`"], "-camera rotate"),
    ("a fox -camera spin", ["`-camera spin`", "zoom in"], "-camera spin"),
    # -style
    ("a fox -style anim", ["`-style anim`", "Did you mean `anime`", "watercolor"], "-style anim"),
    ("a fox -style pixel art", ["Did you mean `pixel-art`"], "-style pixel art"),
    # unknown flags: errors, never prompt text
    ("a fox -camrea zoom in", ["`-camrea`", "Did you mean `-camera`"], "-camrea"),
    ("a fox -speed 3", ["`-speed`", "Did you mean `-motion`"], "-speed"),
    ("a fox -negative blurry", ["`-negative`", "Did you mean `-neg`"], "-negative"),
    ("a fox -xyzzy", ["`-xyzzy`", "-motion", "-camera", "quotes"], "-xyzzy"),
    ("a -cool fox", ["`-cool`"], "-cool"),
    ("a fox —camrea zoom in", ["`—camrea`"], "—camrea"),
    ("a fox -motion3", ["`-motion3`", "Did you mean `-motion 3`"], "-motion3"),
    ("a fox -ar=16:9", ["`-ar=16:9`", "Did you mean `-ar 16:9`"], "-ar=16:9"),
    ("a fox -hide.", ["`-hide.`", "Did you mean `-hide`"], "-hide."),
    # duplicates
    ("a fox -motion 1 -motion 2", ["twice"], "-motion"),
    ("a fox -motion 1 --MOTION 2", ["`--MOTION`", "twice"], "--MOTION"),
    ("a fox -hide -hide", ["`-hide`", "twice"], "-hide"),
    ("a fox -neg a -NEG b", ["`-NEG`", "twice"], "-NEG"),
    # missing values
    ("a fox -motion", ["`-motion`", "needs a value", "0 to 4"], "-motion"),
    ("a fox -camera -hide", ["`-camera`", "needs a value"], "-camera"),
    ("a fox -neg -motion 2", ["`-neg`", "needs a value"], "-neg"),
    ('a fox -neg ""', ['`-neg ""`', "empty"], '-neg ""'),
    # switches take no value
    ("a fox -hide yes", ["`-hide`", "`yes`", "before the first flag"], "-hide yes"),
    ("a fox -fast loud", ["`-fast`", "`loud`"], "-fast loud"),
]


@pytest.mark.parametrize(("text", "mentions", "token"), REFUSED)
def test_refused(text: str, mentions: list[str], token: str) -> None:
    err = refuse(text, capabilities=SOUND_CAPS)
    for word in mentions:
        assert word.lower() in str(err).lower(), (word, str(err))
    if token:
        assert err.token == token


def test_errors_suggest_and_list_what_is_allowed() -> None:
    err = refuse("a fox -camera pan leftt")
    assert err.suggestion == "pan left"
    assert "rotate clockwise" in err.allowed
    err = refuse("a fox -camrea zoom in")
    assert err.suggestion == "-camera"
    assert all(f"-{name}" in err.allowed for name in FLAG_NAMES)
    assert refuse("a fox -xyzzy").suggestion is None


def test_errors_come_left_to_right() -> None:
    assert refuse("a fox -motion 9 -camrea zoom").token == "-motion 9"
    assert refuse("a fox -camrea zoom -motion 9").token == "-camrea"


def test_no_styles_configured() -> None:
    err = refuse("a fox -style anime", styles={})
    assert "no styles" in str(err)


def test_settings_the_spec_refuses_become_a_flag_error() -> None:
    long_clips = CAPS.model_copy(update={"max_seconds": 120})
    err = refuse("a fox -len 100", capabilities=long_clips)
    assert "num_frames" in str(err)
    err = refuse("a fox", owner_name="x" * 500)
    assert "owner_name" in str(err)


# --- the syntax layer ----------------------------------------------------------------------


def test_parse_flags_leaves_what_was_not_given_as_none() -> None:
    parsed = parse_flags("a fox")
    assert parsed.prompt == "a fox"
    assert parsed.negative_prompt == ""
    assert (parsed.motion, parsed.camera, parsed.aspect_ratio, parsed.seed) == (None,) * 4
    assert (parsed.guidance, parsed.fps, parsed.length, parsed.style) == (None,) * 4
    assert (parsed.hidden, parsed.sound) == (False, False)


def test_parse_flags_reads_every_flag() -> None:
    parsed = parse_flags(
        'a fox -motion 3 -camera cw -neg "blur" -ar 4:5 -seed 9 -gs 9.5 -fps 12 -len 30 '
        "-hide -style noir -sound"
    )
    assert parsed.motion == 3
    assert parsed.camera == "rotate clockwise"
    assert parsed.negative_prompt == "blur"
    assert parsed.aspect_ratio == "4:5"
    assert (parsed.seed, parsed.guidance, parsed.fps, parsed.length) == (9, 9.5, 12, 30.0)
    assert (parsed.hidden, parsed.sound) == (True, True)
    assert parsed.style == DEFAULT_STYLES["noir"]


def test_parse_flags_bounds_length_and_sound_only_when_told() -> None:
    assert parse_flags("a fox -len 60").length == 60
    with pytest.raises(FlagError, match="1 to 4"):
        parse_flags("a fox -len 5", max_seconds=4)
    with pytest.raises(FlagError, match="no sound"):
        parse_flags("a fox -sound", sound_supported=False)


# --- back to a command line ----------------------------------------------------------------


def test_command_line_shows_the_prompt_and_the_seed() -> None:
    spec = parse("a fox")
    assert to_command_line(spec) == "a fox -len 2 -seed 777"
    assert to_command_line(spec, capabilities=CAPS) == "a fox -seed 777"


def test_command_line_lists_every_non_default_flag() -> None:
    spec = parse(
        "a fox -sound -hide -len 2.5 -fps 12 -gs 16 -ar 9:16 -camera pan left up "
        "-motion 0 -style NOIR -neg text, watermark -seed 1",
        capabilities=SOUND_CAPS,
    )
    assert to_command_line(spec, capabilities=SOUND_CAPS) == (
        "a fox -neg text, watermark -style noir -motion 0 -camera pan up left -ar 9:16 "
        "-gs 16 -fps 12 -len 2.5 -hide -sound -seed 1"
    )


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ('"-x marks the spot" -seed 1', '"-x marks the spot" -len 2 -seed 1'),
        ('a fox -neg "-blurry, text" -seed 1', 'a fox -neg "-blurry, text" -len 2 -seed 1'),
        ("a fox -neg '\"quoted\"' -seed 1", "a fox -neg '\"quoted\"' -len 2 -seed 1"),
        ("a fox -gs 12.25 -len 1.3 -fps 10 -seed 1", "a fox -gs 12.25 -fps 10 -len 1.3 -seed 1"),
        # a lone quote in the prompt must not pair up with one in the negative prompt
        ("a \"b -neg 'c\"' -seed 1", "a \"b -neg 'c\"' -len 2 -seed 1"),
    ],
)
def test_command_line_quotes_only_what_needs_it(text: str, line: str) -> None:
    spec = parse(text)
    assert to_command_line(spec) == line
    assert parse(line) == spec
