"""Hidden-message requests: what /encrypt_text and /encrypt_image make of a /create request, the
refusals in words, and follow-ups (reroll, vary) that keep what the parent hid."""

from __future__ import annotations

import pytest

from bot.intake.requests import Asker
from core.capabilities import capabilities_for
from core.errors import FlagError, UserFacingError
from core.flags import parse_request
from core.spec import RenderSpec
from core.styles import DEFAULT_STYLES
from intake.followups import follow_up_spec
from intake.illusions import clean_message, require_illusion, with_hidden

ANIMATEDIFF = capabilities_for("animatediff")
BOB = Asker(user_id=42, display_name="Bob", guild_id=7, channel_id=8)


def request(text: str = "a city at night -seed 9") -> RenderSpec:
    return parse_request(text, capabilities=ANIMATEDIFF, owner_id="discord:1", owner_name="Al")


def test_a_message_becomes_an_illusion_of_it() -> None:
    spec = with_hidden(request(), message="  good   morning ", strength=1.5)
    assert (spec.mode, spec.illusion_text, spec.illusion_strength) == (
        "illusion",
        "good morning",
        1.5,
    )
    assert spec.seed == 9 and spec.input_media == ()
    picture = with_hidden(request(), picture="ab/abc.png")
    assert picture.mode == "illusion" and picture.input_media == ("ab/abc.png",)
    assert picture.illusion_strength == 1.0


def test_refusals_say_what_to_do() -> None:
    with pytest.raises(FlagError, match="21 characters; a clip hides at most 20"):
        clean_message("x" * 21)
    with pytest.raises(FlagError, match="Give a word"):
        clean_message("   ")
    with pytest.raises(FlagError, match=r"from 0\.5 \(faint\) to 2 \(strong\)"):
        with_hidden(request(), message="GM", strength=3.0)
    with pytest.raises(FlagError, match="A font is for a message"):
        with_hidden(request(), picture="ab/abc.png", font="mono")
    with pytest.raises(UserFacingError, match="the animatediff model can"):
        require_illusion(capabilities_for("tiny"))
    require_illusion(ANIMATEDIFF)


@pytest.mark.parametrize("action", ["reroll", "vary"])
def test_a_follow_up_keeps_what_the_parent_hid(action: str) -> None:
    parent = with_hidden(request(), message="GM", strength=0.7, font="serif")
    child = follow_up_spec(parent, "b" * 32, action, BOB, ANIMATEDIFF, DEFAULT_STYLES)
    kept = (child.mode, child.illusion_text, child.illusion_strength, child.illusion_font)
    assert kept == ("illusion", "GM", 0.7, "serif")
