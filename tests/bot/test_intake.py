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


async def test_a_members_requests_reach_the_caps_in_arrival_order() -> None:
    """Steps before the caps take varying time (the abuse classifier in a thread, a cache
    load); each request still asks in the order it arrived, whatever order they finish in."""
    intake = Intake()
    asked: list[int] = []
    ready = [asyncio.Event() for _ in range(8)]

    async def request(n: int) -> None:
        with intake.place(Interaction(age_s=0, user_id=7)) as place:  # type: ignore[arg-type]
            await ready[n].wait()  # its own checks, finishing in any order
            await place.wait()
            asked.append(n)
            place.done()

    tasks = [asyncio.create_task(request(n)) for n in range(8)]
    for event in reversed(ready):  # the last to arrive is the first ready
        event.set()
        await asyncio.sleep(0)
    await asyncio.gather(*tasks)
    assert asked == list(range(8))


async def test_other_members_and_given_up_requests_hold_nobody_up() -> None:
    intake = Intake()
    stuck = asyncio.Event()
    asked: list[str] = []

    async def slow_alice() -> None:
        with intake.place(Interaction(age_s=0, user_id=1)) as place:  # type: ignore[arg-type]
            await stuck.wait()
            await place.wait()
            asked.append("alice's first")

    async def failing_alice() -> None:
        with intake.place(Interaction(age_s=0, user_id=1)):  # type: ignore[arg-type]
            raise ValueError("a typo in the flags: refused before the caps")

    async def asker(user_id: int, name: str) -> None:
        with intake.place(Interaction(age_s=0, user_id=user_id)) as place:  # type: ignore[arg-type]
            await place.wait()
            asked.append(name)

    first = asyncio.create_task(slow_alice())
    failed = asyncio.create_task(failing_alice())
    later = asyncio.create_task(asker(1, "alice's third"))
    await asker(2, "bob")  # another member: no wait for alice's
    assert asked == ["bob"]
    stuck.set()
    await asyncio.gather(first, later, failed, return_exceptions=True)
    assert asked == ["bob", "alice's first", "alice's third"]  # the failed one let it through


async def test_a_members_later_requests_never_take_every_turn_from_their_first() -> None:
    """A member's first request whose "thinking…" is still on its way to Discord (it was already
    old: a lagging loop in a burst) while their later, younger ones take the turns: those wait
    for the first one's answer from the caps, so they must not hold every turn it needs."""
    intake = Intake(limit=2)
    asked: list[str] = []

    async def request(name: str, age_s: float) -> None:
        async with intake.turn(Interaction(age_s=age_s, user_id=7)) as place:  # type: ignore[arg-type]
            await place.wait()  # as admit_request does before the caps
            asked.append(name)
            place.done()

    first = asyncio.create_task(request("first", deferral.DEFER_AT_S + 1))  # defers: a round trip
    later = [asyncio.create_task(request(name, 0)) for name in ("second", "third")]
    await asyncio.wait_for(asyncio.gather(first, *later), 10)
    assert asked == ["first", "second", "third"]
