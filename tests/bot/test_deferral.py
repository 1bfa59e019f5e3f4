"""`Deferral`: "thinking…" goes to Discord only when the real answer would be late."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import discord

from bot import deferral
from bot.deferral import Deferral, settle


class Response:
    """The part of discord.py's InteractionResponse a deferral touches, recording calls."""

    def __init__(self, calls: list[str], *, fail: bool | BaseException = False) -> None:
        self.calls = calls
        self.fail = fail
        self.done = False

    def is_done(self) -> bool:
        return self.done

    async def defer(self, *, thinking: bool = False) -> None:
        self.calls.append("defer")
        await asyncio.sleep(0.01)  # a round trip to Discord
        if isinstance(self.fail, BaseException):
            raise self.fail
        if self.fail:
            raise discord.NotFound(FakeHTTPResponse(), "Unknown interaction")
        self.done = True


class FakeHTTPResponse:
    status = 404
    reason = "Not Found"


class Interaction:
    def __init__(
        self, age_s: float, *, fail: bool | BaseException = False, user_id: int = 1
    ) -> None:
        self.user = SimpleNamespace(id=user_id)
        self.calls: list[str] = []
        self.response = Response(self.calls, fail=fail)
        self.created_at = discord.utils.utcnow() - timedelta(seconds=age_s)
        self.extras: dict[str, Any] = {}
        self.id = 1


async def test_a_quick_answer_is_never_deferred(monkeypatch: Any) -> None:
    monkeypatch.setattr(deferral, "DEFER_AT_S", 0.2)
    interaction = Interaction(age_s=0)
    await Deferral.of(interaction).arm()  # type: ignore[arg-type]
    await settle(interaction)  # type: ignore[arg-type]
    await asyncio.sleep(0.3)  # past the moment the timer would have fired
    assert interaction.calls == []


async def test_an_old_interaction_is_deferred_before_arm_returns() -> None:
    interaction = Interaction(age_s=deferral.DEFER_AT_S + 0.5)
    await Deferral.of(interaction).arm()  # type: ignore[arg-type]
    assert interaction.calls == ["defer"]
    assert interaction.response.is_done()


async def test_a_slow_answer_gets_thinking_in_time_and_waits_for_it(monkeypatch: Any) -> None:
    monkeypatch.setattr(deferral, "DEFER_AT_S", 0.05)
    interaction = Interaction(age_s=0)
    await Deferral.of(interaction).arm()  # type: ignore[arg-type]
    assert interaction.calls == []
    await asyncio.sleep(0.055)  # the answer is still being prepared when the timer fires
    await settle(interaction)  # the defer in flight has landed once settle returns
    assert interaction.calls == ["defer"]
    assert interaction.response.is_done()


async def test_the_age_counts_from_receipt_when_the_host_clock_runs_behind(
    monkeypatch: Any,
) -> None:
    monkeypatch.setattr(deferral, "DEFER_AT_S", 0.05)
    interaction = Interaction(age_s=-60)  # the id says it was made a minute from now
    await Deferral.of(interaction).arm()  # type: ignore[arg-type]
    await asyncio.sleep(0.1)
    await settle(interaction)
    assert interaction.calls == ["defer"]


async def test_a_failed_defer_does_not_break_the_answer_that_follows() -> None:
    interaction = Interaction(age_s=10, fail=True)
    await Deferral.of(interaction).arm()  # type: ignore[arg-type]  # raises nothing
    assert interaction.calls == ["defer"]
    assert not interaction.response.is_done()


async def test_settle_without_a_deferral_does_nothing() -> None:
    interaction = Interaction(age_s=0)
    await settle(interaction)  # type: ignore[arg-type]
    assert interaction.calls == []


async def test_one_deferral_per_interaction_and_arming_twice_sets_one_timer(
    monkeypatch: Any,
) -> None:
    monkeypatch.setattr(deferral, "DEFER_AT_S", 0.05)
    interaction = Interaction(age_s=0)
    first = Deferral.of(interaction)  # type: ignore[arg-type]
    assert Deferral.of(interaction) is first  # type: ignore[arg-type]
    await first.arm()
    await first.arm()
    await asyncio.sleep(0.1)
    await settle(interaction)  # type: ignore[arg-type]
    assert interaction.calls == ["defer"]  # one defer, not one per arm


async def test_a_defer_lost_to_the_network_neither_raises_nor_goes_unheard(
    monkeypatch: Any, caplog: Any
) -> None:
    monkeypatch.setattr(deferral, "DEFER_AT_S", 0.01)
    interaction = Interaction(age_s=0, fail=ConnectionResetError("Discord hung up"))
    await Deferral.of(interaction).arm()  # type: ignore[arg-type]
    await asyncio.sleep(0.05)
    await settle(interaction)  # type: ignore[arg-type]  # the answer can still be tried
    assert interaction.calls == ["defer"] and not interaction.response.is_done()
    assert "could not defer" in caplog.text and "Discord hung up" in caplog.text
