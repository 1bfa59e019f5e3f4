"""A story's shots with flags of their own: read, refused where only the story can say it,
kept in the job as a versioned field and written back in the story's line."""

from __future__ import annotations

import json
from functools import partial

import pytest
from pydantic import ValidationError

from core.commandline import stored_command_line, to_command_line
from core.errors import FlagError
from core.flags import parse_flags
from core.spec import RenderSpec, Shot
from core.story import shot_lengths
from core.storyflags import ShotAsk, parse_story, split_shots

read = partial(parse_flags, max_seconds=4.0)


def test_each_shot_keeps_its_own_flags_and_the_last_ones_are_the_storys() -> None:
    told = parse_story(
        "a knight rides out -camera pan left -motion 3 | the knight meets a dragon -len 3 "
        '-neg "blur, text" | they share tea -len 2 -seed 7 -ar 9:16',
        read,
    )
    assert told.story.prompt == "a knight rides out | the knight meets a dragon | they share tea"
    assert (told.story.length, told.story.seed, told.story.aspect_ratio) == (2.0, 7, "9:16")
    assert told.shots == (
        ShotAsk(camera="pan left", motion=3),
        ShotAsk(length=3.0, negative="blur, text"),
        ShotAsk(),
    )


def test_a_bar_before_the_storys_flags_gives_the_last_shot_its_own() -> None:
    told = parse_story("a fox wakes | the fox runs -camera zoom in | -len 2 -seed 1", read)
    assert told.story.prompt == "a fox wakes | the fox runs"
    assert (told.story.length, told.story.seed) == (2.0, 1)
    assert told.shots == (ShotAsk(), ShotAsk(camera="zoom in"))


def test_a_story_without_shot_flags_reads_as_before() -> None:
    told = parse_story("a | b | c -len 2 -seed 3", read)
    assert told.story == parse_flags("a | b | c -len 2 -seed 3", max_seconds=4.0)
    assert not any(ask.said for ask in told.shots)


def test_a_bar_inside_quotes_is_not_a_shot() -> None:
    assert split_shots('a -neg "blur | noise" | b') == ['a -neg "blur | noise"', "b"]


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("a -ar 9:16 | b", "`-ar` in shot 1 of the story: it can only be set for the whole"),
        ("a | b -seed 3 | c", "`-seed` in shot 2 of the story"),
        ("a -sound | b", "`-sound` in shot 1"),
        ("a -fast | b", "`-fast` in shot 1"),
        ("a | -len 2 | c", "Shot 2 of the story has flags but no words"),
        ("a -len 9 | b", "-len"),  # the /create message: longer than the model's clip
        ("a -negative x | b", "Did you mean `-neg`"),
    ],
)
def test_a_shot_flag_that_cant_be_says_the_flag_the_shot_and_what_a_shot_may_carry(
    text: str, says: str
) -> None:
    with pytest.raises(FlagError) as caught:
        parse_story(text, read)
    assert says in str(caught.value)
    if "only be set" in says:
        assert "A shot may carry its own -camera, -motion, -len, -neg." in str(caught.value)


@pytest.mark.parametrize(
    ("num_frames", "own", "expected"),
    [
        (72, (), [24, 24, 24]),
        (96, (None, 48, None), [24, 48, 24]),
        (120, (48, 48, 24), [48, 48, 24]),
    ],
)
def test_a_shots_own_length_and_the_others_share_the_rest(
    num_frames: int, own: tuple[int | None, ...], expected: list[int]
) -> None:
    assert shot_lengths(num_frames, 3, own) == expected


def story(**changes: object) -> RenderSpec:
    fields: dict[str, object] = {
        "prompt": "a fox wakes | the fox runs | the fox sleeps",
        "aspect_ratio": "16:9",
        "width": 512,
        "height": 288,
        "num_frames": 48 + 72 + 48,
        "steps": 4,
        "seed": 5,
        "mode": "story",
        "shot_flags": [{"camera": "pan left"}, {"num_frames": 72, "motion": 3}, {}],
    }
    return RenderSpec.model_validate(fields | changes)


def test_the_job_keeps_shot_flags_as_a_field_unsaid_when_unused() -> None:
    spec = story()
    data = spec.model_dump(mode="json")
    assert data["shot_flags"] == [{"camera": "pan left"}, {"num_frames": 72, "motion": 3}, {}]
    assert RenderSpec.model_validate_json(json.dumps(data)) == spec
    old = story(shot_flags=(), num_frames=3 * 48).model_dump(mode="json")
    assert "shot_flags" not in old  # an old story's job reads and writes as before
    assert spec.shot_flags[0] == Shot(camera="pan left")


@pytest.mark.parametrize(
    ("changes", "says"),
    [
        ({"num_frames": 72 + 73}, "can't be"),  # what is left is no whole length a shot
        ({"shot_flags": [{}, {}]}, "2 shots' own flags"),
        ({"mode": "t2v", "num_frames": 48}, "shot_flags needs mode 'story'"),
        ({"shot_flags": [{"seed": 1}, {}, {}]}, "Extra inputs"),
    ],
)
def test_shot_flags_that_dont_fit_the_story_are_refused(
    changes: dict[str, object], says: str
) -> None:
    with pytest.raises(ValidationError, match=says):
        story(**changes)


def test_the_storys_line_carries_each_shots_flags_and_reads_back() -> None:
    spec = story()
    line = "a fox wakes -camera pan left | the fox runs -motion 3 -len 3 | the fox sleeps -len 2"
    assert to_command_line(spec) == f"{line} -seed 5"
    assert stored_command_line(spec.model_dump(mode="json")) == f"{line} -seed 5"
    told = parse_story(to_command_line(spec), read)
    assert told.shots == (ShotAsk(camera="pan left"), ShotAsk(motion=3, length=3.0), ShotAsk())
    assert told.story.length == 2.0


def test_the_last_shots_own_flags_end_with_a_bar_in_the_line() -> None:
    spec = story(shot_flags=[{}, {}, {"camera": "zoom in"}], num_frames=3 * 48)
    assert to_command_line(spec).startswith(
        "a fox wakes | the fox runs | the fox sleeps -camera zoom in | -len 2 -seed 5"
    )
