"""The intake: at most `limit` requests in progress, served in arrival order, deferral armed."""

from __future__ import annotations

import asyncio
from typing import Any

from bot import deferral
from bot.intake.line import Intake
from tests.bot.test_deferral import Interaction


async def test_requests_past_the_limit_wait_their_turn_in_arrival_order() -> None:
    intake = Intake(limit=2)
    running: list[int] = []
    most = 0
    order: list[int] = []
    release = asyncio.Event()

    async def request(n: int) -> None:
        nonlocal most
        async with intake.turn(Interaction(age_s=0)):  # type: ignore[arg-type]
            order.append(n)
            running.append(n)
            most = max(most, len(running))
            await release.wait()
            running.remove(n)

    tasks = [asyncio.create_task(request(n)) for n in range(6)]
    await asyncio.sleep(0.01)
    assert order == [0, 1]  # the rest wait
    release.set()
    await asyncio.gather(*tasks)
    assert order == list(range(6)) and most == 2


async def test_a_request_waiting_for_its_turn_is_deferred_in_time(monkeypatch: Any) -> None:
    monkeypatch.setattr(deferral, "DEFER_AT_S", 0.05)
    intake = Intake(limit=1)
    busy, done = asyncio.Event(), asyncio.Event()

    async def hog() -> None:
        async with intake.turn(Interaction(age_s=0)):  # type: ignore[arg-type]
            busy.set()
            await done.wait()

    first = asyncio.create_task(hog())
    await busy.wait()
    waiting = Interaction(age_s=0)
    second = asyncio.create_task(intake.turn(waiting).__aenter__())  # type: ignore[arg-type]
    await asyncio.sleep(0.1)
    assert waiting.calls == ["defer"] and not second.done()  # "thinking…" while it waits
    done.set()
    await first
    await second
