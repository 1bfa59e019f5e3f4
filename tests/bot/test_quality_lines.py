"""On a server whose REELBOT_DEFAULT_QUALITY is fast, a clip rendered at hq before (its spec does
not say its quality: made where hq was the default, or before `-fast` existed) still shows `-hq`
in its result caption, so the line pasted there makes the same clip; and on an hq server it
shows no quality word, as before."""

from __future__ import annotations

from bot.messages import result_text
from core.capabilities import capabilities_for
from core.flags import parse_flags, parse_request
from core.spec import RenderSpec

CAPS = capabilities_for("tiny")
URL = "https://clips.example/clips/abc"


def older_hq_clip() -> RenderSpec:
    """Made where hq was the default, stored and read back as the gallery keeps it."""
    made = parse_request("a fox in the snow -seed 3", capabilities=CAPS)
    return RenderSpec.model_validate(made.model_dump(mode="json"))


def command_of(text: str) -> str:
    return text.split("`")[1]


def test_on_a_fast_server_an_older_hq_clip_keeps_hq_in_its_caption() -> None:
    spec = older_hq_clip()
    assert "quality" not in spec.model_dump(mode="json")  # it never said its quality
    line = command_of(result_text(1, spec, URL, default_quality="fast"))
    assert line.endswith("-hq -seed 3"), line
    text = line.removeprefix("/create ")
    assert parse_flags(text).quality == "hq"  # pasted there, it makes an hq clip again


def test_on_an_hq_server_the_caption_says_no_quality_word() -> None:
    line = command_of(result_text(1, older_hq_clip(), URL))
    assert "-hq" not in line and "-fast" not in line and line.endswith("-seed 3")
