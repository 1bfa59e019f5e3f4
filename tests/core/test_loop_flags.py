"""`-loop` in the flag language: read, refused where the model can't loop, written back, never
a default, and the `loop` option that is the same switch."""

from __future__ import annotations

import pytest

from core.capabilities import FAMILIES, families_with
from core.commandline import stored_command_line, to_command_line
from core.defaults import apply_defaults, parse_defaults
from core.errors import FlagError
from core.flags import parse_flags, parse_request
from core.options import merge_options
from core.spec import RenderSpec
from core.styles import DEFAULT_STYLES

TINY = FAMILIES["tiny"]
SVD = FAMILIES["svd"]


def test_loop_is_a_switch_that_reaches_the_spec() -> None:
    parsed = parse_flags("a paper boat on a rainy street -loop -seed 3")
    assert (parsed.prompt, parsed.loop, parsed.seed) == ("a paper boat on a rainy street", True, 3)
    spec = parse_request("a paper boat -loop", capabilities=TINY)
    assert spec.loop and not spec.end_frame
    assert not parse_request("a paper boat", capabilities=TINY).loop


@pytest.mark.parametrize(
    "text, token, words",
    [
        ("a boat -loop 3", "-loop 3", "takes no value"),
        ("a boat -loop -loop", "-loop", "given twice"),
        ("a boat -loop.", "-loop.", "isn't a flag"),
    ],
)
def test_a_loop_typed_wrong_names_the_token(text: str, token: str, words: str) -> None:
    with pytest.raises(FlagError) as caught:
        parse_flags(text)
    assert caught.value.token == token
    assert words in str(caught.value) and token.split()[0] in str(caught.value)


@pytest.mark.parametrize("word", ["-looping", "-seamless", "-loops"])
def test_words_for_a_loop_suggest_it(word: str) -> None:
    with pytest.raises(FlagError) as caught:
        parse_flags(f"a boat {word}")
    assert caught.value.suggestion == "-loop"
    assert "-loop" in str(caught.value.allowed)


def test_a_model_that_cannot_loop_refuses_it_naming_those_that_can() -> None:
    assert families_with("loop") == ["ltx", "tiny", "wan"]
    for text in ("a boat -loop", "a boat -LOOP -seed 1"):
        with pytest.raises(FlagError) as caught:
            parse_request(text, capabilities=SVD)
        message = str(caught.value)
        assert "can't make a clip that loops" in message and "ltx, tiny, wan" in message
        assert caught.value.token in ("-loop", "-LOOP")
    assert not parse_request("a boat", capabilities=SVD.model_copy(update={"modes": ("t2v",)})).loop


def test_the_loop_option_is_the_same_switch() -> None:
    merged = merge_options(
        parse_flags("a boat"), {"loop": True}, styles=DEFAULT_STYLES, max_seconds=4.0
    )
    assert merged.loop
    same = merge_options(
        parse_flags("a boat -loop"), {"loop": True}, styles=DEFAULT_STYLES, max_seconds=4.0
    )
    assert same.loop
    with pytest.raises(FlagError, match="ltx, tiny, wan") as caught:
        merge_options(
            parse_flags("a boat"),
            {"loop": True},
            styles=DEFAULT_STYLES,
            max_seconds=4.0,
            loop_supported=False,
        )
    assert caught.value.token == "loop:"
    unset = merge_options(
        parse_flags("a boat"), {"loop": None}, styles=DEFAULT_STYLES, max_seconds=4.0
    )
    assert not unset.loop


def test_a_loop_line_reads_back_to_the_same_clip() -> None:
    spec = parse_request("a paper boat -motion 2 -loop -seed 9", capabilities=TINY)
    line = to_command_line(spec, capabilities=TINY)
    assert line == "a paper boat -motion 2 -loop -seed 9"
    assert parse_request(line, capabilities=TINY) == spec
    assert (
        stored_command_line(spec.model_dump(mode="json"))
        == "a paper boat -motion 2 -len 2 -loop -seed 9"
    )


def test_loop_and_end_frame_are_unsaid_when_off_so_old_jobs_read_the_same() -> None:
    spec = parse_request("a paper boat -seed 9", capabilities=TINY)
    stored = spec.model_dump(mode="json")
    assert "loop" not in stored and "end_frame" not in stored
    assert RenderSpec.model_validate(stored) == spec
    looped = spec.model_copy(update={"loop": True}).model_dump(mode="json")
    assert looped["loop"] is True and RenderSpec.model_validate(looped).loop


@pytest.mark.parametrize(
    "changes, words",
    [
        ({"loop": True, "end_frame": True, "mode": "i2v", "input_media": ("a", "b")}, "not both"),
        ({"end_frame": True, "mode": "i2v", "input_media": ("a",)}, "two input pictures"),
        ({"end_frame": True}, "mode i2v"),
        ({"loop": True, "mode": "v2v", "input_media": ("a",)}, "mode v2v"),
    ],
)
def test_a_clip_ends_on_one_thing(changes: dict[str, object], words: str) -> None:
    spec = parse_request("a paper boat -seed 9", capabilities=TINY).model_dump()
    with pytest.raises(ValueError, match=words):
        RenderSpec.model_validate(spec | changes)


def test_loop_is_never_a_default() -> None:
    with pytest.raises(FlagError, match="can't be a default") as caught:
        parse_defaults("-motion 2 -loop")
    assert caught.value.token == "-loop"
    defaults = parse_defaults("-motion 2")
    assert not apply_defaults(parse_flags("a boat"), defaults).loop
