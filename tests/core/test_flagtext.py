"""The word layer under the flag grammar: its fast paths read text exactly as the full reading."""

from __future__ import annotations

import unicodedata

from hypothesis import given
from hypothesis import strategies as st

from core.flags import parse_flags
from core.flagtext import clean_text, quoted_spans
from core.text import BIDI_CONTROLS


def slow_clean(text: str) -> str:
    """`clean_text` without its shortcut: character by character."""
    kept = (
        " " if ch.isspace() else ch
        for ch in text
        if ch.isspace()
        or (
            ch not in "\u00ad\u200b\u2060\ufeff"
            and ch not in BIDI_CONTROLS
            and unicodedata.category(ch) not in ("Cc", "Cs")
        )
    )
    return " ".join("".join(kept).split())


@given(
    st.text(
        alphabet=st.sampled_from(list(" \t\n\x00\x7fab-\"'“”é\u200b\u00a0\u202e\u2067")),
        max_size=40,
    )
)
def test_cleaning_reads_like_the_character_by_character_reading(text: str) -> None:
    assert clean_text(text) == slow_clean(text)


def test_cleaning_drops_controls_and_invisibles_and_squeezes_spaces() -> None:
    assert clean_text("  a\tfox\x00\u200b  runs\n") == "a fox runs"
    assert clean_text("plain prompt  -motion 3") == "plain prompt -motion 3"


def test_cleaning_drops_bidi_controls_so_no_prompt_can_reorder_what_is_shown() -> None:
    assert clean_text("a fox \u202ewons ni\u202c -motion 3") == "a fox wons ni -motion 3"
    assert clean_text("\u2067שלום\u2069 \u200ehi\u200f\u061c") == "שלום hi"
    parsed = parse_flags("a \u202efox -neg \u202eblur\u202c")
    assert (parsed.prompt, parsed.negative_prompt) == ("a fox", "blur")


def test_text_without_quote_marks_has_no_quoted_spans_and_text_with_them_does() -> None:
    assert quoted_spans("a fox -motion 3 -ar 9:16") == []
    assert quoted_spans('a sign "-50%" here') == [(7, 13)]
    assert quoted_spans("the fox's den") == []  # an apostrophe is text
