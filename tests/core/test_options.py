from __future__ import annotations

import pytest

from core.errors import FlagError
from core.flags import parse_flags
from core.options import merge_options
from core.styles import DEFAULT_STYLES


def merged(text: str, **options: object):
    return merge_options(parse_flags(text), options, styles=DEFAULT_STYLES, max_seconds=4.0)


@pytest.mark.parametrize(
    "options, field, expected",
    [
        ({"motion": 3}, "motion", 3),
        ({"camera": "pan left"}, "camera", "pan left"),
        ({"camera": "acw"}, "camera", "rotate counterclockwise"),
        ({"negative": "text, watermark"}, "negative_prompt", "text, watermark"),
        ({"aspect_ratio": "9:16"}, "aspect_ratio", "9:16"),
        ({"seed": 7}, "seed", 7),
        ({"guidance": 16.0}, "guidance", 16.0),
        ({"fps": 12}, "fps", 12),
        ({"length": 3.0}, "length", 3.0),
        ({"hide": True}, "hidden", True),
    ],
)
def test_an_option_sets_what_its_flag_sets(options, field, expected) -> None:
    assert getattr(merged("a fox", **options), field) == expected


def test_zero_is_a_value_not_an_unset_option() -> None:
    assert merged("a fox", motion=0).motion == 0
    with pytest.raises(FlagError):
        merged("a fox -motion 0", motion=3)


def test_style_option_reads_a_preset() -> None:
    assert merged("a fox", style="anime").style == DEFAULT_STYLES["anime"]


def test_unset_options_change_nothing() -> None:
    base = parse_flags("a fox -motion 2")
    assert merged("a fox -motion 2", motion=None, camera=None, hide=False, negative="") == base


def test_the_same_setting_both_ways_is_fine_when_they_agree() -> None:
    assert (
        merged("a fox -motion 2 -camera ccw", motion=2, camera="rotate counterclockwise").motion
        == 2
    )


@pytest.mark.parametrize(
    "text, options, mentions",
    [
        ("a fox -motion 2", {"motion": 3}, ["-motion 2", "motion", "3"]),
        ("a fox -ar 1:1", {"aspect_ratio": "9:16"}, ["-ar 1:1", "9:16"]),
        ("a fox -gs 12", {"guidance": 16.0}, ["-gs 12", "16"]),
        ("a fox -style noir", {"style": "anime"}, ["noir", "anime"]),
    ],
)
def test_disagreeing_flag_and_option_is_an_error_naming_both(text, options, mentions) -> None:
    with pytest.raises(FlagError) as error:
        merged(text, **options)
    for word in mentions:
        assert word in str(error.value)


@pytest.mark.parametrize(
    "options, mentions",
    [
        ({"motion": 9}, ["motion", "0", "4"]),
        ({"aspect_ratio": "3:1"}, ["aspect_ratio"]),
        ({"camera": "pan leftt"}, ["pan left"]),
        ({"length": 9.0}, ["4"]),
        ({"style": "animee"}, ["anime"]),
    ],
)
def test_a_bad_option_gets_the_flags_message(options, mentions) -> None:
    with pytest.raises(FlagError) as error:
        merged("a fox", **options)
    for word in mentions:
        assert word in str(error.value)


def test_the_quality_option_is_the_fast_or_hq_switch() -> None:
    assert merged("a fox", quality="fast").quality == "fast"
    assert merged("a fox -hq", quality="hq").quality == "hq"  # both ways, agreeing
    assert merged("a fox", quality=None).quality is None  # unset: the server's default


def test_a_quality_option_against_the_prompts_switch_names_both() -> None:
    with pytest.raises(FlagError) as info:
        merged("a fox -fast", quality="hq")
    assert "The prompt says `-fast` but the `quality` option says `hq`" in str(info.value)


def test_quality_fast_is_refused_where_the_model_has_no_fast_tier() -> None:
    with pytest.raises(FlagError) as info:
        merge_options(
            parse_flags("a fox"),
            {"quality": "fast"},
            styles=DEFAULT_STYLES,
            max_seconds=4.0,
            fast_supported=False,
        )
    assert "has no fast tier" in str(info.value)
