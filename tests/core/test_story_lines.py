"""A story's result line read back makes the same story, whatever `|` its values hold: 🎲 Reroll
and 🎬 Retake read the line again, and an unquoted `|` would cut the story into more shots."""

from __future__ import annotations

import pytest

from core.capabilities import capabilities_for
from core.commandline import stored_command_line, to_command_line
from core.errors import FlagError
from core.flags import resolve_request
from core.spec import RenderSpec
from intake.stories import as_story, read_story

CAPS = capabilities_for("tiny")


def story(text: str) -> RenderSpec:
    told = read_story(text, CAPS, {})
    shot = resolve_request(told.story, capabilities=CAPS, owner_id="cli:local", owner_name="m")
    return as_story(shot, own=told.shots)


def same(a: RenderSpec, b: RenderSpec) -> dict[str, object]:
    fields = ("prompt", "num_frames", "shot_flags", "negative_prompt", "sound_prompt", "seed")
    return {f: (getattr(a, f), getattr(b, f)) for f in fields if getattr(a, f) != getattr(b, f)}


@pytest.mark.parametrize(
    "text",
    [
        'a fox -neg "blur|noise" | the fox runs -len 3 | -seed 1',  # a shot's own
        'a fox | the fox runs -neg "x | y" -seed 2',  # the story's
        'a fox | the fox runs -sound "rain|thunder" -seed 3',
        'a fox -neg "a | b" | the fox runs -camera zoom in -neg "c|d" | -neg "e | f" -seed 4',
    ],
)
def test_a_bar_in_a_value_reads_back_as_the_same_story(text: str) -> None:
    spec = story(text)
    line = to_command_line(spec, capabilities=CAPS)
    assert same(spec, story(line)) == {}, line
    stored = stored_command_line(spec.model_dump(mode="json"))
    assert same(spec, story(stored)) == {}, stored


def test_the_last_shots_own_flags_may_end_with_a_bar_and_nothing_after() -> None:
    spec = story("a fox | the fox runs -camera zoom in |")
    assert spec.prompt == "a fox | the fox runs"
    assert [s.camera for s in spec.shot_flags] == [None, "zoom in"]


@pytest.mark.parametrize("text", ['a sign saying "open | closed" | a door', 'a "x | y" -len 2 | b'])
def test_a_bar_in_a_shots_words_is_the_members_error(text: str) -> None:
    with pytest.raises(FlagError, match=r"Shot 1 of the story has a `\|` in its words"):
        story(text)
