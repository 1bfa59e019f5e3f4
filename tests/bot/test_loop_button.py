"""🔁 Loop under a result: shown where the model loops, and the child it asks for is the
parent's own command with `-loop` (same seed, same pictures), refused plainly where it can't."""

from __future__ import annotations

import pytest

from bot.delivery.views import decode, encode, result_actions, result_view
from bot.intake.requests import Asker
from core.capabilities import capabilities_for
from core.commandline import to_command_line
from core.errors import UserFacingError
from core.flags import parse_request
from core.spec import RenderSpec
from core.styles import DEFAULT_STYLES
from intake.endings import with_end
from intake.followups import follow_up_spec

TINY = capabilities_for("tiny")
PARENT_ID = "b" * 32
BOB = Asker(user_id=42, display_name="Bob", guild_id=7, channel_id=8)
START, END = f"{PARENT_ID[:2]}/{PARENT_ID}.png", f"{PARENT_ID[:2]}/{PARENT_ID}.end.png"


def parent(text: str = "a kite over the sea -motion 3 -seed 77") -> RenderSpec:
    return parse_request(text, capabilities=TINY, owner_id="discord:1", owner_name="Alice")


def loop_of(spec: RenderSpec, capabilities=TINY) -> RenderSpec:
    return follow_up_spec(spec, PARENT_ID, "loop", BOB, capabilities, DEFAULT_STYLES)


def test_the_loop_button_shows_where_the_model_loops() -> None:
    assert "loop" in result_actions((*TINY.modes, "loop"))
    assert "loop" not in result_actions(TINY.modes)
    view = result_view(PARENT_ID, ("t2v", "loop"))
    labels = [item.item.label for item in view.children]  # type: ignore[attr-defined]
    assert labels == ["Reroll", "Remix", "Vary", "Loop", "Delete"]
    assert decode(encode("loop", PARENT_ID)) == ("loop", PARENT_ID)


def test_a_loop_is_the_parents_command_with_loop_and_its_seed() -> None:
    source = parent()
    child = loop_of(source)
    assert child.loop and child.seed == 77 and child.parent_id == PARENT_ID
    assert child.owner_id == "discord:42"
    assert (
        to_command_line(child, capabilities=TINY) == "a kite over the sea -motion 3 -loop -seed 77"
    )
    same = {"loop", "parent_id", "owner_id", "owner_name", "guild_id", "channel_id", "upload_limit"}
    assert child.model_dump(exclude=same) == source.model_dump(exclude=same)


def test_a_picture_clip_loops_on_its_picture_and_an_end_picture_gives_way() -> None:
    animated = parent().model_copy(update={"mode": "i2v", "input_media": (START,)})
    child = loop_of(animated)
    assert (child.mode, child.input_media, child.loop) == ("i2v", (START,), True)

    ending = with_end(animated, START, END)
    assert ending.end_frame and ending.input_media == (START, END)
    reroll = follow_up_spec(ending, PARENT_ID, "reroll", BOB, TINY, DEFAULT_STYLES)
    assert reroll.end_frame and reroll.input_media == (START, END)  # a reroll keeps both
    child = loop_of(ending)
    assert (child.input_media, child.end_frame, child.loop) == ((START,), False, True)


def test_what_cannot_loop_is_refused_in_words() -> None:
    with pytest.raises(UserFacingError, match="loops already"):
        loop_of(loop_of(parent()))
    restyled = parent().model_copy(
        update={"mode": "v2v", "input_media": (f"{PARENT_ID[:2]}/{PARENT_ID}.input.mp4",)}
    )
    with pytest.raises(UserFacingError, match="made from a video"):
        loop_of(restyled)
    media = tuple(f"{PARENT_ID[:2]}/{PARENT_ID}.k{k}.png" for k in range(2))
    keyframed = parent().model_copy(update={"mode": "frames", "input_media": media})
    with pytest.raises(UserFacingError, match=r"ends on its last picture \(/frames\)"):
        loop_of(keyframed)
    svd_like = TINY.model_copy(update={"loop": False, "name": "svd"})
    with pytest.raises(UserFacingError, match="ltx, tiny, wan"):
        loop_of(parent(), svd_like)


def test_extending_a_loop_makes_a_clip_that_goes_on_instead() -> None:
    ltx = capabilities_for("ltx")
    looped = parse_request("a kite -loop -seed 5", capabilities=ltx)
    child = follow_up_spec(
        looped, PARENT_ID, "extend", BOB, ltx, DEFAULT_STYLES, parent_media="bb/x.mp4"
    )
    assert (child.mode, child.loop) == ("extend", False)
