"""`-ref` in the flag language: saved characters' names read, checked and refused clearly, and
never dropped where nobody looks them up."""

from __future__ import annotations

import pytest

from core.capabilities import FAMILIES
from core.characters import MAX_NAME_CHARS, name_key, name_problem
from core.errors import FlagError
from core.flags import parse_flags, parse_request

TINY = FAMILIES["tiny"]
TAKES_REFS = TINY.model_copy(update={"references": 3})
STORED = ("ab/" + "ab" * 16 + ".char.png", "cd/" + "cd" * 16 + ".char.png")


@pytest.mark.parametrize(
    "text, names",
    [
        ("a knight -ref Mira", ("Mira",)),
        ("a knight -ref Mira, Tom", ("Mira", "Tom")),
        ("a knight -ref Mira -ref Tom -seed 2", ("Mira", "Tom")),
        ('a knight -ref "Old Tom" -motion 2', ("Old Tom",)),
        ("a knight -ref Old Tom, mira_2", ("Old Tom", "mira_2")),
        ("a knight -REF Zoë", ("Zoë",)),
        ("a knight", ()),
    ],
)
def test_good_refs_are_read_in_order(text: str, names: tuple[str, ...]) -> None:
    assert parse_flags(text).references == names


@pytest.mark.parametrize(
    "text, token, words",
    [
        ("a knight -ref", "-ref", "needs a value"),
        ("a knight -ref Mira, mira", "-ref Mira, mira", "given twice"),
        ("a knight -ref Mira -ref MIRA", "-ref MIRA", "given twice"),
        ("a knight -ref A, B, C, D", "-ref A, B, C, D", "at most 3"),
        ("a knight -ref A, B -ref C, D", "-ref C, D", "at most 3"),
        ("a knight -ref Mira!", "-ref Mira!", "isn't a name"),
        ("a knight -ref Mira,", "-ref Mira,", "needs a name"),
        (f"a knight -ref {'x' * 33}", f"-ref {'x' * 33}", f"{MAX_NAME_CHARS}"),
        ("a knight -ref _mira", "-ref _mira", "isn't a name"),
    ],
)
def test_bad_refs_name_the_token_and_what_is_allowed(text: str, token: str, words: str) -> None:
    with pytest.raises(FlagError) as caught:
        parse_flags(text)
    assert caught.value.token == token
    assert words in str(caught.value) and token in str(caught.value)
    if words != "needs a value":
        assert "saved characters' names" in str(caught.value.allowed)


def test_words_for_a_character_suggest_ref() -> None:
    with pytest.raises(FlagError) as caught:
        parse_flags("a knight -cref Mira")
    assert caught.value.suggestion == "-ref"


def test_resolved_pictures_reach_the_spec_in_order() -> None:
    spec = parse_request("a knight -ref Mira, Tom", capabilities=TAKES_REFS, references=STORED)
    assert spec.reference_media == STORED
    assert "reference_media" not in parse_request("a knight", capabilities=TAKES_REFS).model_dump()


def test_a_family_without_references_is_refused_naming_it() -> None:
    with pytest.raises(FlagError) as caught:
        parse_request("a knight -ref Mira", capabilities=TINY, references=STORED[:1])
    message = str(caught.value)
    assert "needs a model that takes reference pictures" in message
    assert "this server's model (tiny) doesn't" in message


def test_too_many_for_the_family_says_its_limit() -> None:
    two = TINY.model_copy(update={"references": 1})
    with pytest.raises(FlagError, match="takes at most 1 reference pictures; you gave 2"):
        parse_request("a knight -ref Mira, Tom", capabilities=two, references=STORED)


def test_names_nobody_looked_up_are_refused_not_dropped() -> None:
    with pytest.raises(FlagError, match="not here") as caught:
        parse_request("a knight -ref Mira", capabilities=TAKES_REFS)
    assert caught.value.token == "-ref Mira"


@pytest.mark.parametrize(
    "name, ok",
    [
        ("Mira", True),
        ("old tom", True),
        ("a-b_c 2", True),
        ("", False),
        (" Mira", False),
        ("Mira  Tom", False),
        ("<@123>", False),
        ("x" * 33, False),
    ],
)
def test_name_rule(name: str, ok: bool) -> None:
    assert (name_problem(name) is None) == ok


def test_names_compare_without_case() -> None:
    assert name_key("MIRA") == name_key("mira") == name_key("Mira")


def test_ref_is_never_a_default() -> None:
    from core.defaults import parse_defaults

    with pytest.raises(FlagError, match="can't be a default") as caught:
        parse_defaults("-ar 9:16 -ref Mira")
    assert caught.value.token == "-ref"
