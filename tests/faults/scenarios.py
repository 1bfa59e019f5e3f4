"""The faults of issues 7 and 17, each as one trial on a `Rig`: break something, count what
members saw.

Shared by the CI tests (one trial each, asserted) and `bench/faults.py` (N trials, tabulated).
A trial never asserts; it returns a `Trial` whose `problems` name every expectation it missed,
besides the counts (delivered, duplicates, lost, told). Recovery is measured from the fault to
the moment the member has their answer; what "the fault" is, each scenario says.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import sqlite3
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event

from bot.delivery import consumer as delivery_consumer
from bot.delivery.consumer import GROUP
from jobs.events import follow_events
from jobs.keys import RESULT_STREAM, heartbeat_key
from tests.faults.backends import LONG, LONG_STEPS, OUT_OF_MEMORY, POISON
from tests.faults.rig import FAILED, Request, Rig, Trial
from tests.harness.bombs import grows_midway
from tests.harness.stack import WAN_SMALL
from tests.harness.uploads import mp4

TrialFn = Callable[[Rig, random.Random], Awaitable[Trial]]


@dataclass(frozen=True)
class Scenario:
    name: str
    describe: str
    trial: TrialFn
    prepare: Callable[[Rig], Awaitable[None]]
    rig_options: dict[str, Any] = field(default_factory=dict)


async def one_worker(rig: Rig) -> None:
    await workers_beating(rig, 1)


async def two_workers(rig: Rig) -> None:
    await workers_beating(rig, 2)


async def no_workers(rig: Rig) -> None:
    """Nothing takes work yet: requests wait in Redis."""


async def workers_beating(rig: Rig, count: int, timeout: float = 60) -> None:
    """Start workers until `count` live ones, then wait until exactly those beat."""
    while len(rig.live_workers()) < count:
        rig.start_worker()
    pids = {p.pid for p in rig.live_workers()}
    async with rig.client() as redis, asyncio.timeout(timeout):
        while True:
            keys = [k.decode() async for k in redis.scan_iter(match=heartbeat_key("*"))]
            beating = {pid for pid in pids if any(f"-{pid}-" in k for k in keys)}
            if beating == pids and len(keys) == len(pids):  # the dead ones' keys expired
                return
            await asyncio.sleep(0.1)


# -- a worker SIGKILLed at a random denoising step ------------------------------------------


async def worker_kill(rig: Rig, rng: random.Random) -> Trial:
    """Two workers; the one rendering a 200-step clip is SIGKILLed once the clip's progress
    events show step >= k (k random; events come every 0.25 s, about 40 steps apart here, so
    the kill lands at the first one past k). The survivor takes the clip over when the lease
    runs out. Recovery: kill → clip posted. A replacement starts after the clip is posted."""
    await workers_beating(rig, 2)
    k = rng.randint(1, LONG_STEPS - 1)
    request = await rig.ask(f"a paper boat on a rainy street {LONG}")
    gid = await rig.generation_id(request)
    trial = Trial()
    victim, killed_at, step = None, None, None
    async with rig.client() as redis:
        async for event in follow_events(redis, gid, idle_timeout_s=60):
            if event.kind == "started":
                victim = next(p for p in rig.live_workers() if f"-{p.pid}-" in event.worker)
            elif event.kind == "step" and event.step >= k and victim is not None:
                os.kill(victim.pid, signal.SIGKILL)
                killed_at, step = time.monotonic(), event.step
                victim.wait()
                break
    if killed_at is None:
        trial.problems.append("the render ended before the kill")
        killed_at = time.monotonic()
    answered = await rig.settle([request], timeout=90)
    rig.count([request], trial)
    trial.recovery_s = answered - killed_at
    trial.notes.append(f"killed at step {step} (k={k})")
    row = rig.row(request)
    if row is None or row.attempts != 2:
        trial.problems.append(f"expected 2 attempts, row: {row and row.attempts}")
    return trial


# -- the bot killed between posting and acking ----------------------------------------------


KILL_POINTS = ("after post", "before ack")


@contextlib.contextmanager
def frozen_after(
    target: Any, name: str, reached: asyncio.Event, *, call_first: bool
) -> Iterator[None]:
    """Make `target.name` (a coroutine method) freeze forever, after running (`call_first`) or
    instead of running: the delivery task stops there until it is cancelled."""
    original = getattr(target, name)
    own = name in vars(target)  # a module's function (put back), or a class's method (deleted)

    async def freeze(*args: Any, **kwargs: Any) -> Any:
        if call_first:
            await original(*args, **kwargs)
        reached.set()
        await asyncio.Event().wait()

    setattr(target, name, freeze)
    try:
        yield
    finally:
        if own:
            setattr(target, name, original)
        else:
            with contextlib.suppress(AttributeError):
                delattr(target, name)  # back to the class's method


async def bot_kill(rig: Rig, rng: random.Random, *, point: str | None = None) -> Trial:
    """The bot dies after Discord made the clip's message and before the result record is
    acked: at random, right after the post (before the gallery row names the message) or
    right before it is acknowledged (after it does).

    The bot runs in this process, so the kill is in-process: the delivery task freezes at the
    chosen point, then the bot is closed, which cancels that task where it stands. Nothing of
    the delivery after that point runs (CancelledError passes its `except Exception` handlers),
    so Redis, the database and Discord are left exactly as a SIGKILL there leaves them: the
    message posted, the record pending in the consumer group, unacked. A fresh `ReelBot` (same
    consumer name, as a restarted process) then starts. Recovery: kill → the record is acked.
    """
    await workers_beating(rig, 1)
    assert rig.bot is not None
    point = point or rng.choice(KILL_POINTS)
    reached = asyncio.Event()
    if point == "after post":
        freeze = frozen_after(rig.bot.deliverer, "_post", reached, call_first=True)
    else:
        freeze = frozen_after(delivery_consumer, "acknowledge", reached, call_first=False)
    trial = Trial(notes=[f"killed {point}"])
    with freeze:
        request = await rig.ask("a lighthouse in a storm")
        if not request.accepted:
            trial.problems.append(f"refused before the kill: {request.refusal!r}")
            return trial
        try:
            await asyncio.wait_for(reached.wait(), 60)
        except TimeoutError:  # say how far the clip got, for the worker logs `check` prints
            row = rig.row(request)
            state = row and (row.status, row.attempts, row.error, row.discord_message_id)
            trial.problems.append(f"never reached '{point}' in 60 s; row: {state}")
            return trial
        killed_at = time.monotonic()
        await rig.stop_bot()
    if len(rig.posts(request)) != 1:
        trial.problems.append("the clip was not posted before the kill")
    await rig.start_bot()
    async with rig.client() as redis:
        try:
            async with asyncio.timeout(60):
                while (await redis.xpending(RESULT_STREAM, GROUP))["pending"]:
                    await asyncio.sleep(0.05)
        except TimeoutError:
            trial.problems.append("the result record was never acked")
    trial.recovery_s = time.monotonic() - killed_at
    await rig.settle([request])
    rig.count([request], trial)
    row = rig.row(request)
    posted = rig.posts(request)
    if row is None or not posted or row.discord_message_id != posted[0].id:
        trial.problems.append("the gallery row does not name the posted message")
    return trial


# -- Redis SIGKILLed with requests queued -----------------------------------------------------


async def redis_kill(rig: Rig, requests: int) -> Trial:
    """`requests` clips queued, no worker free; Redis SIGKILLed (a second after the last
    request, so everysec AOF has it) and restarted; then a worker starts. Recovery: restart →
    the last clip posted (worker start-up included, about 8 s here)."""
    asked = [await rig.ask(f"a lantern festival request {i}") for i in range(requests)]
    trial = Trial()
    if not all(r.accepted for r in asked):
        trial.problems.append("not every request was queued before the fault")
    await asyncio.sleep(1.5)
    rig.restart_redis()
    restarted = time.monotonic()
    await workers_beating(rig, 1)
    answered = await rig.settle(asked, timeout=60 + 4 * requests)
    rig.count(asked, trial)
    trial.recovery_s = answered - restarted
    for process in rig.live_workers():  # the next trial queues with nothing rendering again
        process.kill()
        process.wait()
    if trial.lost:
        rows = [rig.row(r) for r in asked if not rig.answered(r)]
        trial.notes.append(f"unanswered rows: {sorted({str(r and r.status) for r in rows})}")
    return trial


def redis_restart(requests: int) -> TrialFn:
    async def trial(rig: Rig, rng: random.Random) -> Trial:
        return await redis_kill(rig, requests)

    return trial


# -- the database unavailable ---------------------------------------------------------------


@contextlib.asynccontextmanager
async def database_locked(path: str) -> Any:
    """Another process's write lock on the SQLite file (`BEGIN EXCLUSIVE`): every write waits
    on it (SQLite's busy timeout, 30 s here) and fails after; reads go on (WAL)."""
    conn = sqlite3.connect(path, timeout=60, isolation_level=None, check_same_thread=False)
    try:
        await asyncio.to_thread(conn.execute, "BEGIN EXCLUSIVE")
        yield
    finally:
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")
        conn.close()


def db_locked(outage_s: float, during: int = 3) -> TrialFn:
    async def trial(rig: Rig, rng: random.Random) -> Trial:
        """One clip just asked (its worker writes during the outage) and `during` requests
        spread over a write outage of `outage_s`. Each must end posted or refused with a
        message; none may stay unanswered. Recovery: outage end → the last request answered."""
        await workers_beating(rig, 1)
        first = await rig.ask("a harbour before the outage")
        asks = []
        async with database_locked(str(rig.data_dir / "reelbot.db")):
            started = time.monotonic()
            for i in range(during):
                await asyncio.sleep(max(0.0, started + i * outage_s / during - time.monotonic()))
                asks.append(asyncio.create_task(rig.ask(f"a harbour during the outage {i}")))
            await asyncio.sleep(max(0.0, started + outage_s - time.monotonic()))
        ended = time.monotonic()
        asked = [first, *[await a for a in asks]]
        answered = await rig.settle(asked, timeout=90)
        trial = rig.count(asked)
        trial.recovery_s = max(0.0, answered - ended)
        refusals = [r.refusal for r in asked if r.refusal]
        if refusals:
            trial.notes.append(f"refused: {refusals[0]!r}")
        if not all(rig.answered(r) for r in asked):
            trial.problems.append("a request was never answered")
        return trial

    return trial


@contextlib.contextmanager
def bot_database_down(rig: Rig) -> Iterator[None]:
    """Every statement the bot sends fails at once, as when its PostgreSQL restarts or the
    network to it drops (the workers' database stays up: they are other processes)."""
    assert rig.stack is not None
    engine = rig.stack.engine

    def refuse(*args: Any) -> None:
        raise sqlite3.OperationalError("unable to open database file")

    event.listen(engine, "before_cursor_execute", refuse)
    try:
        yield
    finally:
        event.remove(engine, "before_cursor_execute", refuse)


async def last_event(rig: Rig, generation_id: str) -> str:
    """The kind of the clip's final progress event (done or failed), once it happens."""
    kind = ""
    async with rig.client() as redis:
        async for event_ in follow_events(redis, generation_id, idle_timeout_s=60):
            kind = event_.kind
    return kind


def db_down(outage_s: float, during: int = 2) -> TrialFn:
    async def trial(rig: Rig, rng: random.Random) -> Trial:
        """The bot's database is down for `outage_s` (longer if need be: until a clip it asked
        for has finished, so its delivery meets the outage) while `during` more requests
        arrive. The clip must be posted once the database is back; each new request refused
        with a message that says why. Recovery: outage end → the last request answered (a
        record left pending is retried by XAUTOCLAIM, after 60 s)."""
        await workers_beating(rig, 1)
        first = await rig.ask(f"a harbour before the outage {LONG}")
        finished = asyncio.ensure_future(last_event(rig, await rig.generation_id(first)))
        with bot_database_down(rig):
            started = time.monotonic()
            asked = [first]
            for i in range(during):
                await asyncio.sleep(max(0.0, started + i * outage_s / during - time.monotonic()))
                asked.append(await rig.ask(f"a harbour during the outage {i}"))
            await asyncio.sleep(max(0.0, started + outage_s - time.monotonic()))
            await finished  # the outage lasts until the clip is done, so delivery meets it
            await asyncio.sleep(0.5)
        ended = time.monotonic()
        answered = await rig.settle(asked, timeout=120)
        trial = rig.count(asked)
        trial.recovery_s = max(0.0, answered - ended)
        refusals = [r.refusal for r in asked if r.refusal]
        if refusals:
            trial.notes.append(f"refused: {refusals[0]!r}")
        if not rig.posts(first):
            trial.problems.append("the clip that finished during the outage was not posted")
        if not all(rig.answered(r) for r in asked):
            trial.problems.append("a request was never answered")
        return trial

    return trial


# -- a job that fails: out of GPU memory, or every time -------------------------------------


def failing_job(marker: str, *, said: str, attempts: int) -> TrialFn:
    async def trial(rig: Rig, rng: random.Random) -> Trial:
        """A clip whose render fails (`marker`), then an ordinary one right behind it. The
        member is told `said`, after `attempts` tries; the same worker process stays up and
        renders the next clip. Recovery: asked → the member told."""
        await workers_beating(rig, 1)
        worker = rig.live_workers()[0]
        bad = await rig.ask(f"a castle made of clouds {marker}")
        good = await rig.ask("a small boat at sea")
        return await told_then_next(rig, worker, bad, good, said=said, attempts=attempts)

    return trial


async def told_then_next(
    rig: Rig, worker: Any, bad: Request, good: Request, *, said: str, attempts: int
) -> Trial:
    """`bad` failed with `said` after `attempts` tries, `good` delivered by the same worker
    process, still up. Recovery: `bad` asked → its member told."""
    trial = Trial(recovery_s=await rig.settle([bad], timeout=90) - bad.asked_at)
    await rig.settle([good], timeout=60)
    rig.count([bad], trial)
    failures = rig.posts(bad, FAILED)
    told = [m for m in failures if said in m.content]
    if not told:
        trial.problems.append(f"not told {said!r}: {[m.content for m in failures]}")
    if not rig.posts(good):
        trial.problems.append("the next clip was not delivered")
    if worker.poll() is not None or rig.live_workers() != [worker]:
        trial.problems.append("the worker did not stay up")
    row = rig.row(bad)
    if row is None or row.status != "failed" or row.attempts != attempts:
        trial.problems.append(f"expected failed after {attempts}: {row and row.attempts}")
    return trial


# -- an upload bomb: a small video that decodes to gigabytes --------------------------------

BOMB_SAID = "frames are 4352×4352 pixels (its header says 96×64)"
# The rig's workers: the wan family at builtin:tiny, which restyles (/restyle) on a CPU.
RESTYLING = {
    "capabilities": WAN_SMALL,
    "REELBOT_BACKEND": "wan",
    "REELBOT_MODEL": "builtin:tiny",
    "REELBOT_DEVICE": "cpu",
}


def upload_bomb_file(rig: Rig) -> bytes:
    """Made once a rig: 1.5 s whose header (what the bot reads) says 96×64, its frames
    4352×4352 from a third of the way in; about 60 KB."""
    path = rig.root / "bomb.mp4"
    if not path.exists():
        grows_midway(path, (96, 64), (4352, 4352))
    return path.read_bytes()


async def upload_bomb(rig: Rig, rng: random.Random) -> Trial:
    """A member restyles the bomb, another member an ordinary video right behind it. The
    worker's decode (a bounded child, `worker.media_sandbox`) refuses the first large frame:
    the member is told its real size after one attempt (never retried, as the same file costs
    the same again), and the same worker process restyles the next video. Recovery: asked →
    the member told."""
    await workers_beating(rig, 1)
    worker = rig.live_workers()[0]
    bad = await rig.restyle(upload_bomb_file(rig))
    good = await rig.restyle(mp4(1.0), "claymation")
    return await told_then_next(rig, worker, bad, good, said=BOMB_SAID, attempts=1)


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario(
            "worker-kill",
            "worker SIGKILL at a random denoising step",
            worker_kill,
            two_workers,
        ),
        Scenario(
            "bot-kill",
            "bot killed between posting and acking",
            bot_kill,
            one_worker,
        ),
        Scenario(
            "redis-aof",
            "Redis SIGKILL + restart with AOF, requests queued",
            redis_restart(50),
            no_workers,
        ),
        Scenario(
            "redis-no-aof",
            "Redis SIGKILL + restart without AOF: the reconciler re-queues",
            redis_restart(50),
            no_workers,
            {
                "appendonly": False,
                "REELBOT_RECONCILE_S": "1",
                "REELBOT_RECONCILE_GRACE_S": "2",
            },
        ),
        Scenario(
            "db-locked",
            "the database write-locked (SQLite, every process waits)",
            db_locked(30.0),
            one_worker,
        ),
        Scenario(
            "db-down",
            "the bot's database refuses every statement (as a dead PostgreSQL)",
            db_down(30.0),
            one_worker,
        ),
        Scenario(
            "gpu-oom",
            "a worker's GPU runs out of memory",
            failing_job(OUT_OF_MEMORY, said="ran out of memory", attempts=1),
            one_worker,
        ),
        Scenario(
            "poison",
            "a poison job (raises every time)",
            failing_job(POISON, said="failed 3 times", attempts=3),
            one_worker,
        ),
        Scenario(
            "upload-bomb",
            "a /restyle upload of 60 KB whose frames grow to 4352x4352 under a 96x64 header",
            upload_bomb,
            one_worker,
            RESTYLING,
        ),
    )
}
