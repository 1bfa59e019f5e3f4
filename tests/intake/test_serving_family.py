"""Commands a bot's own family can't serve go to a family of the fleet that can (/restyle on an
ltx bot with a wan worker), and a result's buttons offer what the whole fleet edits."""

from __future__ import annotations

from typing import Any

import pytest

from bot.delivery.consumer import Delivery
from bot.delivery.views import result_view
from core.capabilities import capabilities_for
from core.errors import UserFacingError
from core.fairshare import queue_of
from intake.fleet import FleetChoice
from intake.modes import serving_family
from jobs.liveness import Liveness

pytestmark = pytest.mark.timeout(60)
GID = "b" * 32


async def beat(redis: Any, family: str) -> None:
    await Liveness(
        redis,
        f"{family}-0",
        interval_s=1,
        lease_s=15,
        queue=queue_of("fast", family),
        family=family,
        modes=capabilities_for(family).all_modes,
    ).beat()


async def test_a_restyle_on_an_ltx_bot_goes_to_the_live_wan_worker(redis: Any) -> None:
    await beat(redis, "ltx")
    await beat(redis, "wan")
    caps = await serving_family(FleetChoice(redis), capabilities_for("ltx"), "v2v", "restyle")
    assert caps.name == "wan"


async def test_with_no_family_that_restyles_the_member_is_told_what_to_start(redis: Any) -> None:
    await beat(redis, "ltx")
    with pytest.raises(UserFacingError, match="No worker here can restyle videos"):
        await serving_family(FleetChoice(redis), capabilities_for("ltx"), "v2v", "restyle")


async def test_before_any_worker_was_seen_the_bots_own_family_answers(redis: Any) -> None:
    with pytest.raises(UserFacingError, match=r"loaded right now \(`ltx`\) can't restyle"):
        await serving_family(FleetChoice(redis), capabilities_for("ltx"), "v2v", "restyle")


def labels(modes: tuple[str, ...]) -> list[str]:
    view = result_view(GID, modes)
    shown = [getattr(item, "item", item) for item in view.children]  # DynamicItems wrap theirs
    return [str(getattr(item, "label", None) or getattr(item, "placeholder", "")) for item in shown]


async def test_results_offer_modify_and_expand_when_a_wan_vace_worker_edits(redis: Any) -> None:
    delivery: Any = Delivery.__new__(Delivery)  # only the fleet and the bot's own modes
    delivery.modes, delivery.fleet = ("t2v", "i2v"), FleetChoice(redis)
    await beat(redis, "tiny")
    assert not any("Modify" in label for label in labels(await delivery.modes_now()))
    delivery.fleet = FleetChoice(redis)  # a fresh read, not the cached one
    await beat(redis, "wan_vace")
    shown = labels(await delivery.modes_now())
    assert any("Modify" in label for label in shown), shown


async def test_an_edit_is_sized_for_the_editor_as_it_announced_its_limits(redis: Any) -> None:
    """The local tiny editor renders 256x144 in seconds where 480p takes minutes on a CPU:
    its beat says so, and the front end sizes edits with it; a worker announcing nothing is
    sized as its family is built in."""
    from core.capabilities import announced_limits, served_capabilities

    await beat(redis, "tiny")
    await Liveness(
        redis,
        "vace-0",
        interval_s=1,
        lease_s=15,
        queue=queue_of("fast", "wan_vace"),
        family="wan_vace",
        modes=capabilities_for("wan_vace").all_modes,
        limits=announced_limits(served_capabilities("wan_vace", "builtin:tiny")),
    ).beat()
    caps = await FleetChoice(redis).family_for("edit", capabilities_for("tiny"))
    assert (caps.name, caps.native_pixels, caps.default_steps) == ("wan_vace", 256 * 144, 4)
    assert served_capabilities("wan_vace", None) == capabilities_for("wan_vace")
