"""`-ref` taken by a front end (intake.characters): which family renders it, what the policy
says of the names, and the member's names in the answer to an unknown one."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from core.capabilities import capabilities_for
from core.errors import ContentBlocked, FlagError
from core.flags import parse_flags
from core.policy import default_policy
from intake import characters
from intake.characters import family_for_references, screen_names, take_references

TINY = capabilities_for("tiny")
LTX = capabilities_for("ltx")
REFS = capabilities_for("wan_vace").model_copy(update={"references": 3})


@dataclass
class Seen:
    modes: dict[str, tuple[str, ...]]
    live: dict[str, int] = field(default_factory=dict)

    def offered(self) -> dict[str, tuple[str, ...]]:
        return self.modes

    def workers(self) -> dict[str, int]:
        return self.live


class FakeFleet:
    def __init__(self, seen: Seen) -> None:
        self.seen = seen

    async def fleet(self) -> Seen:
        return self.seen


@pytest.fixture
def vace_takes_refs(monkeypatch: pytest.MonkeyPatch) -> None:
    """wan_vace as its engineer will ship it (references=3), whatever core says today."""
    real = characters.capabilities_for
    monkeypatch.setattr(
        characters, "capabilities_for", lambda f: REFS if f == "wan_vace" else real(f)
    )


async def test_the_main_family_keeps_a_request_it_can_render() -> None:
    main = TINY.model_copy(update={"references": 3})
    assert await family_for_references(main, 2, None) is main
    assert await family_for_references(LTX, 0, None) is LTX


@pytest.mark.usefixtures("vace_takes_refs")
async def test_a_fleet_family_that_takes_references_renders_it() -> None:
    fleet = FakeFleet(Seen({"ltx": ("t2v", "i2v"), "wan_vace": ("t2v", "edit")}, {"ltx": 2}))
    chosen = await family_for_references(LTX, 3, fleet)  # type: ignore[arg-type]
    assert chosen.name == "wan_vace" and chosen.references == 3


@pytest.mark.usefixtures("vace_takes_refs")
async def test_no_such_worker_is_a_refusal_naming_the_model() -> None:
    fleet = FakeFleet(Seen({"ltx": ("t2v", "i2v")}))
    with pytest.raises(FlagError) as caught:
        await family_for_references(LTX, 1, fleet)  # type: ignore[arg-type]
    assert "needs a model that takes reference pictures" in str(caught.value)
    assert "this server's model (ltx) doesn't" in str(caught.value)


def test_the_policy_reads_the_names() -> None:
    with pytest.raises(ContentBlocked, match="`p0rn`"):
        screen_names(default_policy(), ["Mira", "p0rn"])
    screen_names(default_policy(), ["Mira", "Old Tom"])


async def test_a_blocked_name_is_refused_before_any_look_up() -> None:
    class NoStore:
        def get_many(self, *args: object) -> list[object]:
            raise AssertionError("looked up a name the policy blocks")

    parsed = parse_flags("a knight -ref p0rn")
    with pytest.raises(ContentBlocked):
        await take_references(
            parsed,
            main=TINY.model_copy(update={"references": 3}),
            member_id="discord:1",
            guild_id=1,
            store=NoStore(),  # type: ignore[arg-type]
            policy=default_policy(),
            fleet=None,
        )
