"""Progress edits within a channel's budget: the newest state of each clip, clips in turns, and a
finished clip's edits over before its result. `Turns` on a fake clock; `EditPacer` with a
scripted `send` whose edits end when the test says."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import Counter

from bot.delivery.pacing import EditPacer, Turns
from tests.harness.waiting import eventually


def run_channel(turns: Turns[int], offers: dict[float, list[tuple[str, int]]], until: float):
    """Step a fake clock through [0, until) by 0.05 s: offer what arrives at each moment, send
    whatever `take` gives. The edits sent, as (time, clip, state)."""
    sent = []
    for tick in range(int(until / 0.05)):
        now = round(tick * 0.05, 2)
        for clip, state in offers.get(now, []):
            turns.offer(clip, state)
        if (taken := turns.take(now)) is not None:
            sent.append((now, *taken))
    return sent


def test_a_clip_stepping_faster_than_its_edits_shows_only_its_newest_step() -> None:
    turns: Turns[int] = Turns(channel_interval=1.25, clip_interval=3.0)
    steps = {round(0.25 * i, 2): [("a", i)] for i in range(1, 41)}  # a step every 0.25 s
    sent = run_channel(turns, steps, until=10.25)
    assert [(at, state) for at, _, state in sent] == [(0.25, 1), (3.25, 13), (6.25, 25), (9.25, 37)]


def test_clips_in_one_channel_take_turns_within_its_budget() -> None:
    turns: Turns[int] = Turns(channel_interval=1.25, clip_interval=3.0)
    clips = [f"clip{i}" for i in range(8)]
    steps = {round(0.25 * i, 2): [(clip, i) for clip in clips] for i in range(1, 121)}
    sent = run_channel(turns, steps, until=30.0)
    times = [at for at, _, _ in sent]
    # the channel's budget: an edit per 1.25 s at most, so never more than 4 in 5 s
    assert all(b - a >= 1.25 for a, b in itertools.pairwise(times))
    assert max(sum(1 for t in times if start <= t < start + 5) for start in times) == 4
    # in turns: each clip once before any clip twice, then the same order again
    order = [clip for _, clip, _ in sent]
    assert order[:8] == clips and order[8:16] == clips
    assert set(Counter(order).values()) <= {3, 4}  # 24 edits in 30 s, shared fairly
    # and each shows its newest step when its turn comes
    assert all(state == int(at / 0.25) for at, _, state in sent)


def test_a_finished_clip_is_dropped_and_the_others_go_on() -> None:
    turns: Turns[int] = Turns(channel_interval=1.0, clip_interval=0.0)
    for clip in ("a", "b", "c"):
        turns.offer(clip, 1)
    assert turns.take(0.0) == ("a", 1)
    turns.drop("b")  # finished before its turn: its pending edit goes
    assert turns.next_at() == 1.0
    assert turns.take(0.5) is None  # the channel's interval holds
    assert turns.take(1.0) == ("c", 1)
    assert turns.take(2.0) is None and turns.next_at() is None


async def test_finish_waits_for_the_clips_edit_in_flight_and_nothing_follows() -> None:
    """`finish` returns only once the clip's edit in flight has landed; its newer state, still
    waiting, is never sent; the other clips' edits go on."""
    landed: list[tuple[str, int]] = []
    gates: dict[tuple[str, int], asyncio.Event] = {}
    started: asyncio.Queue[tuple[str, int]] = asyncio.Queue()

    def gate(clip: str, state: int) -> asyncio.Event:
        return gates.setdefault((clip, state), asyncio.Event())

    async def send(clip: str, state: int) -> None:
        await started.put((clip, state))
        await gate(clip, state).wait()  # until the test lets Discord answer
        landed.append((clip, state))

    pacer: EditPacer[int] = EditPacer(send, channel_interval=0.0, clip_interval=0.0)
    try:
        pacer.offer(1, "a", 1)
        assert await started.get() == ("a", 1)
        pacer.offer(1, "a", 2)  # newer, waiting behind the one in flight
        pacer.offer(1, "b", 1)
        finishing = asyncio.create_task(pacer.finish("a"))
        await asyncio.sleep(0)
        assert not finishing.done()  # its edit has not landed yet
        gate("a", 1).set()
        await finishing
        assert landed == [("a", 1)]
        assert await started.get() == ("b", 1)  # the next clip's turn; "a" 2 was dropped
        gate("b", 1).set()
        await pacer.finish("b")
        assert landed == [("a", 1), ("b", 1)] and started.empty()
    finally:
        for event in gates.values():
            event.set()
        await pacer.close()


async def test_a_stuck_channel_holds_up_no_other_channel() -> None:
    sent: asyncio.Queue[tuple[str, int]] = asyncio.Queue()
    stuck = asyncio.Event()

    async def send(clip: str, state: int) -> None:
        await sent.put((clip, state))
        if clip == "slow":
            await stuck.wait()  # Discord holding this channel's edit

    pacer: EditPacer[int] = EditPacer(send, channel_interval=0.0, clip_interval=0.0)
    try:
        pacer.offer(1, "slow", 1)
        assert await sent.get() == ("slow", 1)
        pacer.offer(2, "quick", 1)
        assert await sent.get() == ("quick", 1)
        pacer.offer(2, "quick", 2)
        assert await sent.get() == ("quick", 2)
        await pacer.finish("slow", wait=0.01)  # given up on and cancelled, not waited out
    finally:
        stuck.set()
        await pacer.close()


async def test_a_quiet_channel_is_forgotten() -> None:
    """Pacing kept for every channel the bot ever edited in would grow for as long as it runs:
    once a channel's last edits pace nothing any more, nothing of it is kept."""
    sent: list[tuple[str, int]] = []

    async def send(clip: str, state: int) -> None:
        sent.append((clip, state))

    pacer: EditPacer[int] = EditPacer(send, channel_interval=0.05, clip_interval=0.1)
    try:
        for channel in range(50):
            pacer.offer(channel, f"clip{channel}", 1)
        await eventually(lambda: len(sent) == 50)
        await eventually(lambda: pacer.channels == 0)
        pacer.offer(3, "clip3", 2)  # a channel edited again later starts afresh
        await eventually(lambda: ("clip3", 2) in sent)
    finally:
        await pacer.close()


async def test_a_channel_between_edits_keeps_its_pace() -> None:
    """Its edits done, a channel still waits out its interval before the next one."""
    sent_at: list[float] = []
    clock = time.monotonic

    async def send(clip: str, state: int) -> None:
        sent_at.append(clock())

    pacer: EditPacer[int] = EditPacer(send, channel_interval=0.3, clip_interval=0.0, clock=clock)
    try:
        pacer.offer(1, "a", 1)
        await eventually(lambda: len(sent_at) == 1)
        pacer.offer(1, "b", 1)  # the channel's task found nothing left after "a"
        await eventually(lambda: len(sent_at) == 2)
        assert sent_at[1] - sent_at[0] >= 0.3
    finally:
        await pacer.close()


def test_a_channel_whose_clips_all_finished_is_quiet_after_its_interval() -> None:
    turns: Turns[int] = Turns(channel_interval=1.0, clip_interval=3.0)
    turns.offer("a", 1)
    assert turns.take(0.0) == ("a", 1)
    assert turns.quiet_at() == 3.0  # "a" may still step: its own interval counts
    turns.drop("a")
    assert turns.quiet_at() == 1.0
