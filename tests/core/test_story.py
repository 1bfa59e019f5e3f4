"""Stories: shots read from the prompt, their length and what they cost against the daily cap."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from core.capabilities import FAMILIES
from core.spec import RenderSpec
from core.story import MAX_SHOTS, cost, shot_frames, shot_kind, shot_label, shots, story_frames


@pytest.mark.parametrize(
    ("prompt", "expected"),
    [
        ("a knight rides out | a dragon", ["a knight rides out", "a dragon"]),
        (" a | b | c ", ["a", "b", "c"]),
        ("|".join("abcdefgh"), list("abcdefgh")),
    ],
)
def test_shots_are_read_in_order(prompt: str, expected: list[str]) -> None:
    assert shots(prompt) == expected


@pytest.mark.parametrize(
    ("prompt", "says"),
    [
        ("one shot only", "a story takes 2 to 8 shots separated by |, got 1"),
        ("|".join("abcdefghi"), "a story takes 2 to 8 shots separated by |, got 9"),
        ("a | | c", "shot 2 of the story is empty"),
        ("| b |", "shot 1, 3 of the story is empty"),
    ],
)
def test_bad_stories_say_what_was_wrong(prompt: str, says: str) -> None:
    with pytest.raises(ValueError, match=says.replace("|", r"\|")):
        shots(prompt)


def test_a_story_costs_a_clip_per_shot() -> None:
    assert cost("story", "a | b | c") == 3
    assert cost("t2v", "a | b | c") == 1  # a | in a plain prompt is just a character


def test_shot_lengths() -> None:
    assert shot_frames(48, 3) == 16
    assert story_frames(16, 3) == 48
    with pytest.raises(ValueError, match="can't be 47 frames"):
        shot_frames(47, 3)
    assert shot_kind(0) == "s0.mp4" and shot_kind(MAX_SHOTS - 1) == "s7.mp4"
    with pytest.raises(ValueError):
        shot_kind(MAX_SHOTS)
    assert shot_label(1, 3) == "shot 2/3"


def _spec(**changes: object) -> RenderSpec:
    fields: dict[str, object] = {
        "prompt": "a | b | c",
        "aspect_ratio": "16:9",
        "width": 512,
        "height": 288,
        "num_frames": 48,
        "steps": 4,
        "seed": 1,
        "mode": "story",
    }
    return RenderSpec.model_validate(fields | changes)


def test_the_contract_checks_a_story() -> None:
    assert _spec().mode == "story"
    with pytest.raises(ValidationError, match="got 1"):
        _spec(prompt="just one")
    with pytest.raises(ValidationError, match="3 shots can't be 47"):
        _spec(num_frames=47)
    with pytest.raises(ValidationError, match="at most one input picture"):
        _spec(input_media=("a/png", "b/png"))
    # a spec written as JSON and read back is the same story
    assert RenderSpec.model_validate_json(_spec().model_dump_json()) == _spec()


def test_families_with_image_to_video_tell_stories() -> None:
    assert "story" in FAMILIES["tiny"].all_modes
    assert "story" in FAMILIES["ltx"].all_modes
    assert "story" not in FAMILIES["wan_vace"].all_modes  # no image-to-video to chain with


def test_a_storys_command_line_says_each_shots_length() -> None:
    """The line under a result (and on its gallery page) reads back to the same story."""
    from core.commandline import stored_command_line, to_command_line

    story = _spec(num_frames=3 * 24)  # three shots of one second
    assert to_command_line(story).endswith("-len 1 -seed 1")
    assert stored_command_line(story.model_dump(mode="json")).endswith("-len 1 -seed 1")
    plain = _spec(mode="t2v", num_frames=3 * 24)
    assert to_command_line(plain).endswith("-len 3 -seed 1")
