"""`-fast` and `-hq`: what members type, the spec they get, and the line that gives it back."""

from __future__ import annotations

import pytest

from core.capabilities import FAMILIES
from core.commandline import stored_command_line, to_command_line
from core.defaults import apply_defaults, defaults_text, parse_defaults
from core.errors import FlagError
from core.flags import parse_flags, parse_request
from core.rendercaps import FastRecipe
from core.spec import RenderSpec
from tests.bot.capabilities import CAPS

FAST_CAPS = CAPS.model_copy(update={"fast": FastRecipe(steps=2, guidance=1.0)})


def parse(text: str, **kwargs: object) -> RenderSpec:
    kwargs.setdefault("capabilities", FAST_CAPS)
    return parse_request(text, seed_source=lambda: 7, **kwargs)  # type: ignore[arg-type]


def test_fast_renders_the_recipes_steps_and_hq_the_full_schedule() -> None:
    fast, hq, plain = parse("a fox -fast"), parse("a fox -hq"), parse("a fox")
    assert (fast.quality, fast.steps) == ("fast", 2)
    assert (hq.quality, hq.steps) == ("hq", 4)
    assert (plain.quality, plain.steps) == ("hq", 4)  # the built-in default: the full schedule


def test_the_operators_default_applies_only_when_the_member_says_neither() -> None:
    assert parse("a fox", default_quality="fast").quality == "fast"
    assert parse("a fox -hq", default_quality="fast").quality == "hq"


@pytest.mark.parametrize("text", ["a fox -fast -hq", "a fox -hq -fast"])
def test_fast_and_hq_together_are_refused_naming_both(text: str) -> None:
    with pytest.raises(FlagError) as info:
        parse(text)
    message = str(info.value)
    assert "`-fast` and `-hq` can't both be given" in message
    assert "Keep one of them" in message


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("a fox -fast now", "`-fast` takes no value, but `now` follows it"),
        ("a fox -quick", "Did you mean `-fast`?"),
        ("a fox -hqq", "Did you mean `-hq`?"),
        ("a fox -fast -fast", "`-fast` is given twice"),
    ],
)
def test_mistakes_are_named(text: str, says: str) -> None:
    with pytest.raises(FlagError) as info:
        parse(text)
    assert says in str(info.value)


def test_a_model_without_a_fast_recipe_refuses_fast_and_renders_hq_by_default() -> None:
    with pytest.raises(FlagError) as info:
        parse_request("a fox -fast", capabilities=CAPS)
    assert "has no fast tier" in str(info.value)
    spec = parse_request("a fox", capabilities=CAPS, default_quality="fast")
    assert (spec.quality, spec.steps) == ("hq", CAPS.default_steps)


def test_every_built_in_family_has_a_fast_recipe_with_no_more_steps_than_hq() -> None:
    for caps in FAMILIES.values():
        assert caps.fast is not None, caps.name
        assert caps.steps_for("fast") <= caps.steps_for("hq"), caps.name
        assert caps.fast.note, caps.name  # what fast means there is said, not hidden


def test_the_command_line_shows_the_choice_and_reads_back() -> None:
    fast = parse("a fox -fast -seed 3")
    line = to_command_line(fast, capabilities=FAST_CAPS)
    assert line == "a fox -fast -seed 3"
    assert parse(line) == fast
    # where the server's default is fast, an hq clip's line must say -hq to come out the same
    hq = parse("a fox -hq -seed 3", default_quality="fast")
    assert (
        to_command_line(hq, capabilities=FAST_CAPS, default_quality="fast") == "a fox -hq -seed 3"
    )
    assert parse("a fox -hq -seed 3", default_quality="fast") == hq


def test_a_stored_spec_from_before_the_fast_tier_reads_as_hq() -> None:
    stored = parse("a fox -seed 3").model_dump(mode="json")
    assert "quality" not in stored  # an hq spec is written byte for byte as before
    assert RenderSpec.model_validate(stored).quality == "hq"
    assert stored_command_line(stored) == "a fox -len 2 -seed 3"
    fast = parse("a fox -fast -seed 3").model_dump(mode="json")
    assert fast["quality"] == "fast"
    assert stored_command_line(fast) == "a fox -len 2 -fast -seed 3"
    assert RenderSpec.model_validate_json(parse("a fox -fast").model_dump_json()).quality == "fast"


def test_fast_can_be_a_members_default_and_an_inline_hq_wins() -> None:
    defaults = parse_defaults("-fast -ar 9:16")
    assert defaults_text(defaults) == "-ar 9:16 -fast"
    assert apply_defaults(parse_flags("a fox"), defaults).quality == "fast"
    assert apply_defaults(parse_flags("a fox -hq"), defaults).quality == "hq"


@pytest.mark.parametrize("server", ["hq", "fast"])
def test_every_line_of_a_clip_made_on_a_fast_default_server_names_its_quality(
    server: str,
) -> None:
    """Made where the default is fast, an hq clip's caption, Remix text and gallery line say
    -hq, wherever they are shown; pasted on either kind of server they make the same clip."""
    hq = parse("a fox -seed 3 -hq", default_quality="fast")
    fast = parse("a fox -seed 3", default_quality="fast")
    stored_hq, stored_fast = hq.model_dump(mode="json"), fast.model_dump(mode="json")
    assert stored_hq["quality"] == "hq"  # kept in the job and the gallery's row
    for spec, stored, word in ((hq, stored_hq, "-hq"), (fast, stored_fast, "-fast")):
        line = to_command_line(spec, capabilities=FAST_CAPS, default_quality=server)  # type: ignore[arg-type]
        assert line == f"a fox {word} -seed 3"
        assert stored_command_line(stored) == f"a fox -len 2 {word} -seed 3"
        for where in ("hq", "fast"):
            again = parse(line, default_quality=where)
            assert again.quality == spec.quality
        read_back = RenderSpec.model_validate_json(spec.model_dump_json())
        assert to_command_line(read_back, capabilities=FAST_CAPS) == line


def test_on_an_hq_default_server_an_hq_line_stays_as_before_until_shown_where_fast_is_default() -> (
    None
):
    hq = parse("a fox -seed 3")
    assert "quality" not in hq.model_dump(mode="json")
    assert to_command_line(hq, capabilities=FAST_CAPS) == "a fox -seed 3"
    assert (
        to_command_line(hq, capabilities=FAST_CAPS, default_quality="fast") == "a fox -hq -seed 3"
    )
    assert stored_command_line(hq.model_dump(mode="json"), default_quality="fast").endswith(
        "-hq -seed 3"
    )
