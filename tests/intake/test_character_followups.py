"""Follow-ups of a -ref clip: Reroll and Vary keep its characters on the family that drew them
(no command line carries them); Loop and Remix, which can't yet, say so instead of dropping
them."""

from __future__ import annotations

import pytest

from core.capabilities import capabilities_for
from core.errors import UserFacingError
from core.spec import RenderSpec
from intake.followups import follow_up_spec

GID, CHILD = "a" * 32, "f" * 32
CHARACTER = "cd/cd" + "1" * 30 + ".char.png"
TINY = capabilities_for("tiny")  # the bot's own family, which takes no references


class Member:
    owner_id = "discord:2"
    display_name = "bob"
    guild_id = 1
    channel_id = 2
    upload_limit = None


PARENT = RenderSpec(
    prompt="a knight at dawn",
    aspect_ratio="16:9",
    width=832,
    height=464,
    num_frames=81,
    steps=30,
    seed=5,
    backend="wan_vace",
    reference_media=(CHARACTER,),
)


@pytest.mark.parametrize("action", ["reroll", "vary"])
def test_reroll_and_vary_keep_the_characters_on_their_family(action: str) -> None:
    child = follow_up_spec(PARENT, GID, action, Member(), TINY, {})  # type: ignore[arg-type]
    assert child.reference_media == (CHARACTER,)
    assert (child.backend, child.width, child.height, child.steps) == ("wan_vace", 832, 464, 30)
    assert (child.parent_id, child.owner_id, child.prompt) == (GID, "discord:2", PARENT.prompt)
    assert (child.seed != PARENT.seed) == (action == "reroll")


@pytest.mark.parametrize("action", ["loop", "remix"])
def test_loop_and_remix_say_they_cant_keep_the_characters(action: str) -> None:
    with pytest.raises(UserFacingError, match="saved characters"):
        follow_up_spec(PARENT, GID, action, Member(), TINY, {}, text="a knight at dusk")  # type: ignore[arg-type]
