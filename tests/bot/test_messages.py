"""What members read: never over Discord's limit, the link kept, their markdown shown as typed."""

from __future__ import annotations

import pytest

from bot.messages import (
    DISCORD_MESSAGE_LIMIT,
    LINK_ONLY,
    about,
    failed_text,
    progress_text,
    queued_text,
    result_text,
)
from core.edits import EditSpec
from core.flags import parse_request
from core.spec import RenderSpec
from core.text import BIDI_CONTROLS
from tests.bot.capabilities import CAPS

URL = "http://gallery.test/clips/0123456789abcdef0123456789abcdef"


def spec(text: str):
    return parse_request(text, capabilities=CAPS)


def test_a_long_prompt_never_pushes_the_link_off_the_result() -> None:
    long = spec("a" * 1490 + " -neg " + "b" * 1400 + " -seed 3")
    for how in ("full", "compressed", LINK_ONLY):
        text = result_text(1, long, URL, how=how)
        assert len(text) <= DISCORD_MESSAGE_LIMIT
        assert text.endswith(URL)
        assert text.count("`") == 2  # the command line's code span is closed


def test_prompt_markdown_is_shown_as_typed_in_public_messages() -> None:
    sneaky = spec("# [FREE NITRO](https://evil.example) ||x|| **big** @everyone -seed 3")
    text = queued_text(1, sneaky, 1)
    assert "\\# \\[FREE NITRO]" in text and "\\|\\|x\\|\\|" in text and "\\*\\*big" in text
    assert "@everyone" not in text


def test_a_failure_reason_is_escaped_too() -> None:
    text = failed_text(1, spec("a fox -seed 3"), "bad **value** @here")
    assert "\\*\\*value\\*\\*" in text and "@here" not in text


def test_bidi_controls_in_a_stored_prompt_reach_no_message() -> None:
    # A clip recorded before prompts were cleaned on reading: its spec still carries them.
    old = spec("a fox -neg blur -seed 3").model_copy(
        update={"prompt": "a fox \u202enur\u2066s", "negative_prompt": "\u200fblur"}
    )
    texts = [
        queued_text(1, old, 1),
        progress_text(1, old, 1, 2, 3.0),
        result_text(1, old, URL),
        failed_text(1, old, "bad \u202evalue"),
    ]
    for text in texts:
        assert not BIDI_CONTROLS & set(text), text
    assert "a fox nurs" in texts[0] and "`/create a fox nurs -neg blur" in texts[2]


@pytest.mark.parametrize(
    "seconds, text",
    [(0.2, "about 1 s"), (42, "about 42 s"), (150, "about 2 min"), (5400, "about 1.5 h")],
)
def test_about(seconds, text) -> None:
    assert about(seconds) == text


def test_the_queued_message_shows_the_eta_when_there_is_one() -> None:
    clip = spec("a fox -seed 1")
    assert "ready in about 40 s" in queued_text(1, clip, 2, eta_s=40)
    assert "ready in" not in queued_text(1, clip, 2)


def test_the_result_and_the_queued_line_say_which_quality_made_the_clip() -> None:
    from core.rendercaps import FastRecipe

    caps = CAPS.model_copy(update={"fast": FastRecipe(steps=2)})
    fast = parse_request("a fox -fast -seed 3", capabilities=caps)
    hq = parse_request("a fox -seed 3", capabilities=caps)
    fast_text = result_text(1, fast, URL)
    assert "seed 3 · fast\n" in fast_text
    assert "`/create a fox -len 2 -fast -seed 3`" in fast_text  # the line gives a fast clip back
    assert "seed 3 · hq\n" in result_text(1, hq, URL)
    assert "· fast" in queued_text(1, fast, 2)


def test_an_edits_result_says_what_was_edited_not_a_create_line() -> None:
    """An edit can't be made again by pasting a /create line; its result says what it did."""
    parent = spec("a red car on a coast road -seed 3")
    edit = parent.model_copy(
        update={
            "mode": "edit",
            "prompt": "make it `snow`",
            "input_media": ("parent.mp4",),
            "edit": EditSpec(kind="modify", where="the red car"),
        }
    )
    text = result_text(1, RenderSpec.model_validate(edit.model_dump()), URL)
    assert "`edited: modify the red car · make it ˋsnowˋ`" in text
    assert "/create" not in text and text.endswith(URL)
    expand = edit.model_copy(update={"edit": EditSpec(kind="expand", expand_to="9:16")})
    assert "`edited: expanded to 9:16 · make it ˋsnowˋ`" in result_text(1, expand, URL)
