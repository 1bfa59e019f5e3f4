"""Reroll, Vary and Loop on a story: the child is a story of the same shots and length."""

from __future__ import annotations

import pytest

from bot.intake.requests import Asker
from core.capabilities import capabilities_for
from core.errors import UserFacingError
from core.flags import parse_request
from core.styles import DEFAULT_STYLES
from intake.followups import follow_up_spec
from intake.stories import as_story

TINY = capabilities_for("tiny")
PARENT_ID = "d" * 32
BOB = Asker(user_id=42, display_name="Bob", guild_id=7, channel_id=8)


def story(text: str = "a fox wakes | the fox runs | the fox sleeps -len 2 -seed 5"):
    shot = parse_request(text, capabilities=TINY, owner_id="discord:1", owner_name="Alice")
    return as_story(shot)


@pytest.mark.parametrize("action", ["reroll", "vary"])
def test_a_storys_child_is_the_same_story(action: str) -> None:
    parent = story()
    child = follow_up_spec(parent, PARENT_ID, action, BOB, TINY, DEFAULT_STYLES)
    assert (child.mode, child.prompt) == ("story", parent.prompt)
    assert child.num_frames == parent.num_frames == 3 * 48  # 6 s: longer than one clip


def test_a_story_cannot_loop() -> None:
    with pytest.raises(UserFacingError, match="can't loop"):
        follow_up_spec(story(), PARENT_ID, "loop", BOB, TINY, DEFAULT_STYLES)


def test_a_reroll_keeps_each_shots_own_flags() -> None:
    from core.flags import resolve_request
    from intake.stories import read_story

    told = read_story(
        "a fox wakes -camera pan left | the fox runs -len 3 | the fox sleeps -len 2 -seed 5",
        TINY,
        DEFAULT_STYLES,
    )
    parent = as_story(resolve_request(told.story, capabilities=TINY), own=told.shots)
    child = follow_up_spec(parent, PARENT_ID, "reroll", BOB, TINY, DEFAULT_STYLES)
    assert child.shot_flags == parent.shot_flags
    assert child.num_frames == parent.num_frames == 48 + 72 + 48
    assert child.seed != parent.seed


def test_a_remix_of_a_story_with_one_shot_is_the_members_error() -> None:
    with pytest.raises(UserFacingError, match="A story takes 2 to 8 shots separated by \\|, got 1"):
        follow_up_spec(story(), PARENT_ID, "remix", BOB, TINY, DEFAULT_STYLES, text="one fox")
