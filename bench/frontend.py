"""Fire a burst of /create interactions at one bot process and print ack latency and throughput.

    python bench/frontend.py [--requests 1000]

The fake Discord (tests/fakediscord) runs in this process and the real bot in a child process,
so the figures are the bot's own: parse, policy-free validation, gallery row (SQLite), arq
enqueue (a private Redis) and the public "queued" answer. No worker runs: jobs just queue.
Ack latency is from the fake sending INTERACTION_CREATE to it receiving the callback.

With two cores or more the bot gets one to itself and everything else the rest, as it would on
its own machine: on a shared 2-core box, figures taken with `--shared-cores` swing by 15% from
run to run, as the three processes push each other around.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from jobs.keys import SCHED_JOB_PREFIX  # noqa: E402


async def run_child(args: argparse.Namespace) -> None:
    """The bot process: discord.py pointed at the fake, everything else real."""
    import discord
    import yarl

    from bot.app import ReelBot, start_settled
    from core.capabilities import capabilities_for
    from gallery.db import make_engine, migrate
    from gallery.media import LocalMediaStore
    from gallery.store import GalleryStore
    from intake.submit import connect_queue

    discord.http.Route.BASE = f"{args.base}/api/v10"
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(args.gateway)
    engine = make_engine(f"sqlite:///{Path(args.data) / 'reelbot.db'}")
    migrate(engine)
    bot = ReelBot(
        queue=await connect_queue(args.redis),
        store=GalleryStore(engine),
        media=LocalMediaStore(Path(args.data) / "media"),
        capabilities=capabilities_for("tiny"),
        public_url="http://gallery.test",
        guild_ready_timeout=0.05,
    )
    async with bot:
        await start_settled(bot, args.token)


async def run_bare_child(args: argparse.Namespace) -> None:
    """The floor: an unmodified discord.py client whose /create only answers, nothing else.
    What reelbot adds per request is the full run's CPU less this one's."""
    import aiohttp
    import discord
    import yarl
    from discord import app_commands

    from bot.app import DISCORD_CONNECTIONS

    discord.http.Route.BASE = f"{args.base}/api/v10"
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(args.gateway)

    class Bare(discord.Client):
        def __init__(self) -> None:
            super().__init__(intents=discord.Intents.none())
            self.tree = app_commands.CommandTree(self)

        async def login(self, token: str) -> None:
            self.http.connector = aiohttp.TCPConnector(  # as ReelBot's
                limit=0, limit_per_host=DISCORD_CONNECTIONS
            )
            await super().login(token)

        async def setup_hook(self) -> None:
            await self.tree.sync()

    bot = Bare()

    @bot.tree.command(name="create")
    async def create(interaction: discord.Interaction, prompt: str) -> None:
        await interaction.response.send_message(f"queued: {prompt}")

    async with bot:
        await bot.start(args.token)


def cores_apart() -> tuple[set[int], set[int]] | None:
    """(the bot's cores, everyone else's): the bot alone on one core where there are two or
    more, so its figures are its own and not the fake Discord's or Redis's competing with it."""
    if not hasattr(os, "sched_getaffinity"):
        return None
    cores = sorted(os.sched_getaffinity(0))
    return ({cores[-1]}, set(cores[:-1])) if len(cores) >= 2 else None


async def run_bench(args: argparse.Namespace, data: Path) -> None:
    from redis.asyncio import Redis

    apart = None if args.shared_cores else cores_apart()
    args.apart = apart is not None
    if apart is not None:  # this process and the Redis it starts stay off the bot's core
        os.sched_setaffinity(0, apart[1])

    from cli.local_redis import LocalRedis
    from tests.fakediscord import FakeDiscord

    with LocalRedis(data / "redis", appendonly=False) as redis_server:
        async with FakeDiscord(ack_deadline=None, patch=False) as fake:
            child = subprocess.Popen(
                [
                    sys.executable, __file__, "--child",
                    "--base", fake.base_url, "--gateway", fake.gateway_url,
                    "--token", fake.token, "--redis", redis_server.url, "--data", str(data),
                    "--loop", args.loop, *(["--bare"] if args.bare else []),
                ],
                env={**os.environ, "HF_HUB_OFFLINE": "1"},
            )  # fmt: skip
            if apart is not None:
                os.sched_setaffinity(child.pid, apart[0])
            try:
                await fake.wait_for(lambda e: e.kind == "sync", timeout=60)
                await fake.wait_for(lambda e: e.kind == "ready", timeout=60)
                await measure(args, fake, Redis.from_url(redis_server.url), child.pid)
            finally:
                child.terminate()
                child.wait()


async def queued(redis) -> int:
    """Jobs the fair scheduler holds (no worker runs, so none is admitted to arq)."""
    return len([k async for k in redis.scan_iter(match=f"{SCHED_JOB_PREFIX}*", count=1000)])


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def measure(args: argparse.Namespace, fake, redis, bot_pid: int) -> None:
    # A few warm-up requests, so imports and first-connection costs stay out of the figures.
    warm = [fake.world.add_user(f"warm{i}") for i in range(5)]
    for i, user in enumerate(warm):
        ix = await fake.slash_command("create", {"prompt": f"warm up {i}"}, user=user)
        await ix.wait_response()
    while not args.bare and await queued(redis) < 5:  # each enqueue follows its answer
        await asyncio.sleep(0.01)
    before = await queued(redis)

    # A crowd, each member within the default cap of 4 clips in flight.
    members = [fake.world.add_user(f"member{i}") for i in range((args.requests + 3) // 4)]
    log = fake.recorder.log
    since = len(log)
    bot_cpu = cpu_seconds(bot_pid)
    fake_cpu = time.process_time()
    started = time.perf_counter()
    burst = [
        await fake.slash_command(
            "create",
            {"prompt": f"a fox running through snow -motion 3 -ar 9:16 -seed {i}"},
            user=members[i % len(members)],
        )
        for i in range(args.requests)
    ]
    created = {ix.id: ix.created for ix in burst}
    # One scan of the log for every answer (a waiter per interaction would cost the fake
    # O(n^2) predicate calls and make the benchmark measure the fake).
    latencies: list[float] = []
    deferred = 0  # answered with "thinking…" first (then an edit: two calls to Discord)
    while len(latencies) < args.requests and time.perf_counter() - started < 120:
        for event in log[since:]:
            if event.kind == "callback" and event.interaction.id in created:
                latencies.append(event.at - created.pop(event.interaction.id))
                deferred += event.callback is not None and event.callback.type == 5
        since = len(log)
        await asyncio.sleep(0.005)
    answered = time.perf_counter() - started
    # The answer comes before the enqueue (so a clip never finishes before its destination is
    # known): the burst is done when every job is in the queue.
    in_queue = 0
    while not args.bare and time.perf_counter() - started < answered + 60:
        in_queue = await queued(redis) - before
        if in_queue >= args.requests:
            break
        await asyncio.sleep(0.005)
    elapsed = time.perf_counter() - started
    bot_cpu = cpu_seconds(bot_pid) - bot_cpu
    fake_cpu = time.process_time() - fake_cpu
    await redis.aclose()
    latencies.sort()

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000

    n = args.requests
    where = "on a core of its own" if args.apart else "sharing cores"
    print(f"{n} /create interactions in one burst against one bot process {where} "
          f"({os.cpu_count()} cores, {args.loop} event loop)")  # fmt: skip
    print(f"ack ms: p50 {pct(0.50):.0f}  p95 {pct(0.95):.0f}  p99 {pct(0.99):.0f}  "
          f"max {latencies[-1] * 1000:.0f}  (Discord allows 3000)")  # fmt: skip
    print(f"late (> 3 s): {sum(t > 3 for t in latencies)}; answered with \"thinking…\" first: "
          f"{deferred}")  # fmt: skip
    print(f"end to end: {n / elapsed:.0f} requests/s (all answered after {answered:.2f} s, "
          f"all enqueued after {elapsed:.2f} s; jobs queued {in_queue}/{n})")  # fmt: skip
    print(f"bot process CPU: {bot_cpu * 1000 / n:.2f} ms per request -> {n / bot_cpu:.0f} "
          f"requests/s per bot process on one core")  # fmt: skip
    print(
        f"fake Discord + Redis client CPU (this process): {fake_cpu * 1000 / n:.2f} ms per request"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument(
        "--loop",
        choices=("default", "asyncio"),
        default="default",
        help="the bot's loop: as `reelbot bot` runs it (uvloop where installed), or asyncio's",
    )
    parser.add_argument(
        "--bare",
        action="store_true",
        help="the floor: a discord.py client that only answers (no queue, nothing enqueued)",
    )
    parser.add_argument(
        "--shared-cores",
        action="store_true",
        help="let the bot share cores with the fake Discord and Redis (default: a core of its own)",
    )
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    for name in ("base", "gateway", "token", "redis", "data"):
        parser.add_argument(f"--{name}", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        from bot import eventloop

        child = run_bare_child(args) if args.bare else run_child(args)
        (asyncio.run if args.loop == "asyncio" else eventloop.run)(child)
        return
    with tempfile.TemporaryDirectory(prefix="reelbot-frontend-") as tmp:
        asyncio.run(run_bench(args, Path(tmp)))


if __name__ == "__main__":
    main()
