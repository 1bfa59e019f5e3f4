"""How fair is the admission order, and how fast is the Redis step?

    python bench/fairness.py [--cases 2000] [--seed 1] [--jobs 2000] [--no-redis]

Part 1 runs random arrival patterns (members in several guilds, bursts, both tiers, random
admission steps) through the pure scheduler and reports, over all cases:
- rounds behind: the most turns any member of a guild got while another member of it waited
  (1 means nobody ever got ahead by more than one round);
- the newcomer's wait: admissions before a member's single job, arriving behind a backlog,
  against the bound guilds x members, and what plain FIFO would have made it wait;
- the longest run of fast admissions into a shared queue while relax waited (at most K-1).
Part 2 runs the Lua step against a private redis-server: submissions/s and admissions/s.
Part 3 times the calls on every /create (preview_position, check) and the place-in-line reads
behind a backlog of 1,000 waiting jobs, from one member and from 1,000 members: µs per call.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.fairshare import (  # noqa: E402
    RELAX_QUEUE,
    Caps,
    Cursor,
    FairShare,
    fair_order,
    plan,
    queue_of,
)
from core.spec import DEFAULT_QUEUE, RenderJob  # noqa: E402

if TYPE_CHECKING:
    from jobs.admission import Admission

SHARED = {"fast": DEFAULT_QUEUE, "relax": DEFAULT_QUEUE}
SPLIT = {"fast": DEFAULT_QUEUE, "relax": RELAX_QUEUE}


def one_case(rng: random.Random, share: FairShare) -> tuple[int, int, int, int, int]:
    """(rounds behind, newcomer wait, its bound, FIFO wait, longest fast streak) for one case."""
    guilds = [f"g{i}" for i in range(rng.randint(1, 4))]
    members = [(rng.choice(guilds), f"m{i}") for i in range(rng.randint(2, 12))]
    queues: dict[str, dict[str, dict[str, list[str]]]] = {"fast": {}, "relax": {}}
    fifo: list[str] = []
    turns: dict[tuple[str, str, str], dict[str, int]] = {}  # waiting member -> others' turns
    worst = streak = worst_streak = 0
    cursor, serial = Cursor(), 0

    def waiting(tier: str, guild: str, member: str) -> bool:
        return bool(queues[tier].get(guild, {}).get(member))

    for _ in range(rng.randint(5, 40)):
        for _ in range(rng.randint(0, 3)):  # arrivals, often in bursts
            guild, member = rng.choice(members)
            tier = "relax" if rng.random() < 0.25 else "fast"
            if not waiting(tier, guild, member):
                turns[tier, guild, member] = defaultdict(int)
            for _ in range(rng.choice([1, 1, 2, 5, 20])):
                serial += 1
                queues[tier].setdefault(guild, {}).setdefault(member, []).append(f"j{serial}")
                fifo.append(f"j{serial}")
        shared = rng.random() < 0.6
        free = {DEFAULT_QUEUE: rng.randint(0, 3), RELAX_QUEUE: rng.randint(0, 2)}
        done, cursor = plan(queues, cursor, free, SHARED if shared else SPLIT, share)
        for a in done:
            relax_waited = any(any(ms.values()) for ms in queues["relax"].values())
            for (tier, guild, member), seen in turns.items():
                same_guild = (tier, guild) == (a.tier, a.guild) and member != a.member
                if same_guild and waiting(tier, guild, member):
                    seen[a.member] += 1
                    worst = max(worst, seen[a.member])
            turns[a.tier, a.guild, a.member] = defaultdict(int)
            if shared:
                streak = streak + 1 if a.tier == "fast" and relax_waited else 0
                worst_streak = max(worst_streak, streak)
            queues[a.tier][a.guild][a.member].pop(0)
            fifo.remove(a.job)
    # a newcomer arrives behind whatever is left
    guild = rng.choice(guilds)
    queues["fast"].setdefault(guild, {})["newcomer"] = ["new"]
    fifo.append("new")
    order = fair_order({"fast": queues["fast"]}, cursor, SHARED, share)
    at = [a.job for a in order].index("new")
    busy_guilds = sum(1 for ms in queues["fast"].values() if any(ms.values()))
    busy_members = sum(1 for js in queues["fast"][guild].values() if js)
    fifo_wait = sum(1 for j in fifo[: fifo.index("new")] if j in {a.job for a in order})
    return worst, at, busy_guilds * busy_members, fifo_wait, worst_streak


def pure_figures(cases: int, seed: int, share: FairShare) -> None:
    rng = random.Random(seed)
    results = [one_case(rng, share) for _ in range(cases)]
    rounds = max(r[0] for r in results)
    over = sum(1 for r in results if r[1] >= r[2])
    print(f"pure scheduler, {cases} random cases, relax_every={share.relax_every}:")
    print(f"  max rounds behind another member of the guild: {rounds}")
    print(
        f"  newcomer waited  max {max(r[1] for r in results)} admissions"
        f" (over the guilds x members bound in {over} cases);"
        f" FIFO would have made it wait max {max(r[3] for r in results)},"
        f" mean {sum(r[3] for r in results) / cases:.1f} vs fair"
        f" {sum(r[1] for r in results) / cases:.1f}"
    )
    print(
        f"  longest fast run while relax waited in a shared queue: {max(r[4] for r in results)}"
        f" (limit {share.relax_every - 1})"
    )


async def redis_figures(jobs: int) -> None:
    from redis.asyncio import Redis

    from cli.local_redis import LocalRedis
    from core.spec import RenderJob, RenderSpec
    from jobs.admission import Admission
    from jobs.keys import heartbeat_key

    with tempfile.TemporaryDirectory() as tmp, LocalRedis(Path(tmp), appendonly=False) as server:
        redis = Redis.from_url(server.url)
        tiny = {t: queue_of(t, "tiny") for t in ("fast", "relax")}  # the clips' family's queues
        await redis.set(heartbeat_key("bench"), b'{"queue": "%s"}' % tiny["fast"].encode())
        admission = Admission(redis, share=FairShare(extra_depth=jobs), batch=64)
        caps = Caps(in_flight=jobs, per_day=jobs)
        clips = [
            RenderJob(
                generation_id=f"{n:032x}",
                spec=RenderSpec(
                    prompt="a fox in the snow",
                    aspect_ratio="16:9",
                    width=848,
                    height=480,
                    num_frames=49,
                    steps=30,
                    seed=n,
                    owner_id=f"m{n % 50}",
                    guild_id=n % 3,
                ),
            )
            for n in range(jobs)
        ]
        started = time.perf_counter()
        for clip in clips:
            await admission.enqueue(clip, caps=caps)
        submit_s = time.perf_counter() - started
        started = time.perf_counter()
        admitted = await admission.admit()
        admit_s = time.perf_counter() - started
        assert len(admitted) == jobs, len(admitted)
        await redis.flushdb()
        await redis.set(heartbeat_key("bench"), b'{"queue": "%s"}' % tiny["fast"].encode())
        single = Admission(redis, share=FairShare(extra_depth=jobs), batch=1)
        for clip in clips[:500]:
            await single.enqueue(clip, caps=caps)
        started = time.perf_counter()
        for _ in range(500):
            await single._step("tiny", tiny, {tiny["fast"]: jobs, tiny["relax"]: 0})
        step_s = (time.perf_counter() - started) / 500
        await redis.aclose()
    print(f"redis path, {jobs} jobs from 50 members in 3 guilds:")
    print(
        f"  submit {jobs / submit_s:,.0f}/s; admit {jobs / admit_s:,.0f}/s in batches of 64;"
        f" one single-job step {step_s * 1000:.2f} ms round trip"
    )


async def per_call(step: Callable[[], Awaitable[object]], calls: int) -> float:
    await step()
    started = time.perf_counter()
    for _ in range(calls):
        await step()
    return (time.perf_counter() - started) / calls * 1e6


async def call_costs(
    admission: Admission, newcomer: RenderJob, last: RenderJob, caps: Caps, calls: int
) -> dict[str, float]:
    """µs per call for a newcomer and for the member who owns the backlog's last job."""
    owner = last.spec.owner_id
    return {
        "(a PING)": await per_call(admission.redis.ping, calls),
        "preview (newcomer)": await per_call(
            lambda: admission.preview_position(newcomer.spec), calls
        ),
        "preview (owner)": await per_call(lambda: admission.preview_position(last.spec), calls),
        "check (newcomer)": await per_call(lambda: admission.check("newcomer", caps), calls),
        "check (owner)": await per_call(lambda: admission.check(owner, caps), calls),
        "position (last job)": await per_call(
            lambda: admission.position(last.generation_id), calls
        ),
        "next_position (owner)": await per_call(lambda: admission.next_position(owner), calls),
    }


async def latency_figures(backlog: int, calls: int) -> None:
    from redis.asyncio import Redis

    from cli.local_redis import LocalRedis
    from core.spec import RenderSpec
    from jobs.admission import Admission
    from jobs.keys import heartbeat_key

    def clip(n: int, owner: str, guild: int) -> RenderJob:
        spec = RenderSpec(
            prompt="a fox in the snow",
            aspect_ratio="16:9",
            width=848,
            height=480,
            num_frames=49,
            steps=30,
            seed=n,
            owner_id=owner,
            guild_id=guild,
        )
        return RenderJob(generation_id=f"{n:032x}", spec=spec)

    shapes = {
        "one member": lambda n: ("big", 1),
        f"{backlog:,} members": lambda n: (f"m{n:04d}", n % 3),
    }
    print(f"per-/create reads behind {backlog:,} waiting jobs, µs per call ({calls} calls):")
    with tempfile.TemporaryDirectory() as tmp, LocalRedis(Path(tmp), appendonly=False) as server:
        redis = Redis.from_url(server.url)
        for name, who in shapes.items():
            await redis.flushdb()
            # one fast worker of the clips' family (tiny), relax shares it
            beat = {"queue": queue_of("fast", "tiny")}
            await redis.set(heartbeat_key("bench"), json.dumps(beat))
            admission = Admission(redis, workers_cache_s=3600)
            caps = Caps(in_flight=backlog + 10, per_day=backlog + 10)
            for n in range(backlog):
                await admission.enqueue(clip(n, *who(n)), caps=caps, tier="fast")
            for n in range(backlog, backlog + 20):  # some relax jobs in the shared queue
                await admission.enqueue(clip(n, f"r{n}", 2), caps=caps, tier="relax")
            last = clip(backlog - 1, *who(backlog - 1))
            figures = await call_costs(admission, clip(10**6, "newcomer", 1), last, caps, calls)
            print(f"  {name:>14}: " + "; ".join(f"{k} {v:,.0f}" for k, v in figures.items()))
        await redis.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--relax-every", type=int, default=4)
    parser.add_argument("--backlog", type=int, default=1000)
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--no-redis", action="store_true")
    args = parser.parse_args()
    pure_figures(args.cases, args.seed, FairShare(relax_every=args.relax_every))
    if not args.no_redis:
        asyncio.run(redis_figures(args.jobs))
        asyncio.run(latency_figures(args.backlog, args.calls))


if __name__ == "__main__":
    main()
