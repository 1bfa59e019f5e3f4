"""A story's shots' own `-neg` are screened as a clip's negative prompt is: the policy reads
each with its shot's words, so a shot's flags are no way round it."""

from __future__ import annotations

import pytest

from core.capabilities import capabilities_for
from core.errors import ContentBlocked
from core.flags import resolve_request
from core.policy import default_policy
from core.spec import RenderSpec
from intake.screening import screen
from intake.stories import as_story, read_story

CAPS = capabilities_for("tiny")


class Member:
    owner_id = "discord:1"
    guild_id = 1


class NoBans:
    async def active(self, owner_id: str, guild_id: int | None) -> None:
        return None


def story(text: str) -> RenderSpec:
    told = read_story(text, CAPS, {})
    shot = resolve_request(told.story, capabilities=CAPS, owner_id="discord:1", owner_name="m")
    return as_story(shot, own=told.shots)


async def screened(spec: RenderSpec) -> str:
    decision = await screen(spec, Member(), bans=NoBans(), policy=default_policy(), toxicity=None)
    return decision.decision


@pytest.mark.parametrize(
    "text",
    [
        "a dog in a park -neg nigger | the dog runs home",  # a slur is refused wherever it is
        "a beach at noon | a nude person -neg adult, mature | sunset",  # steering away from adults
    ],
)
async def test_a_shots_own_negative_is_screened(text: str) -> None:
    spec = story(text)
    assert any(shot.negative_prompt for shot in spec.shot_flags)
    with pytest.raises(ContentBlocked):
        await screened(spec)


async def test_a_harmless_shot_negative_is_allowed() -> None:
    assert await screened(story("a dog in a park -neg blurry | the dog runs home")) == "allow"
