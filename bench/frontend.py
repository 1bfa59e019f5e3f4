"""Fire a burst of /create interactions at one bot process and print ack latency and throughput.

    python bench/frontend.py [--requests 1000]

The fake Discord (tests/fakediscord) runs in this process and the real bot in a child process,
so the figures are the bot's own: parse, policy-free validation, gallery row (SQLite), arq
enqueue (a private Redis) and the public "queued" answer. No worker runs: jobs just queue.
Ack latency is from the fake sending INTERACTION_CREATE to it receiving the callback.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


async def run_child(args: argparse.Namespace) -> None:
    """The bot process: discord.py pointed at the fake, everything else real."""
    import discord
    import yarl

    from bot.app import ReelBot
    from bot.submit import connect_queue
    from gallery.db import make_engine, migrate
    from gallery.media import LocalMediaStore
    from gallery.store import GalleryStore
    from worker.backends import capabilities_for
    from worker.spec import DEFAULT_QUEUE

    discord.http.Route.BASE = f"{args.base}/api/v10"
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(args.gateway)
    engine = make_engine(f"sqlite:///{Path(args.data) / 'reelbot.db'}")
    migrate(engine)
    bot = ReelBot(
        queue=await connect_queue(args.redis),
        store=GalleryStore(engine),
        media=LocalMediaStore(Path(args.data) / "media"),
        capabilities=capabilities_for("tiny"),
        queue_name=DEFAULT_QUEUE,
        public_url="http://gallery.test",
        guild_ready_timeout=0.05,
    )
    async with bot:
        await bot.start(args.token)


async def run_bench(args: argparse.Namespace, data: Path) -> None:
    from redis.asyncio import Redis

    from bot.local_redis import LocalRedis
    from tests.fakediscord import FakeDiscord
    from worker.spec import DEFAULT_QUEUE

    with LocalRedis(data / "redis", appendonly=False) as redis_server:
        async with FakeDiscord(ack_deadline=None, patch=False) as fake:
            child = subprocess.Popen(
                [
                    sys.executable, __file__, "--child",
                    "--base", fake.base_url, "--gateway", fake.gateway_url,
                    "--token", fake.token, "--redis", redis_server.url, "--data", str(data),
                ],
                env={**os.environ, "HF_HUB_OFFLINE": "1"},
            )  # fmt: skip
            try:
                await fake.wait_for(lambda e: e.kind == "sync", timeout=60)
                await fake.wait_for(lambda e: e.kind == "ready", timeout=60)
                await measure(args, fake, Redis.from_url(redis_server.url), DEFAULT_QUEUE)
            finally:
                child.terminate()
                child.wait()


async def measure(args: argparse.Namespace, fake, redis, queue_name: str) -> None:
    # A few warm-up requests, so imports and first-connection costs stay out of the figures.
    for i in range(5):
        await (await fake.slash_command("create", {"prompt": f"warm up {i}"})).wait_response()
    while await redis.zcard(queue_name) < 5:  # each enqueue follows its answer
        await asyncio.sleep(0.01)
    await redis.delete(queue_name)

    async def one(i: int) -> float:
        ix = await fake.slash_command(
            "create", {"prompt": f"a fox running through snow -motion 3 -ar 9:16 -seed {i}"}
        )
        await ix.wait_response()
        return fake.clock() - ix.created

    started = time.perf_counter()
    latencies = sorted(await asyncio.gather(*(one(i) for i in range(args.requests))))
    answered = time.perf_counter() - started
    # The answer comes before the enqueue (so a clip never finishes before its destination is
    # known): the burst is done when every job is in the queue.
    queued = 0
    while time.perf_counter() - started < answered + 60:
        queued = await redis.zcard(queue_name)
        if queued >= args.requests:
            break
        await asyncio.sleep(0.01)
    elapsed = time.perf_counter() - started
    await redis.aclose()

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000

    print(f"{args.requests} /create interactions in one burst against one bot process")
    print(f"ack latency ms: p50 {pct(0.50):.0f}  p95 {pct(0.95):.0f}  p99 {pct(0.99):.0f}  "
          f"max {latencies[-1] * 1000:.0f}  (Discord allows 3000)")  # fmt: skip
    print(f"late (> 3 s): {sum(t > 3 for t in latencies)}")
    print(f"parse + record + enqueue + answer: {args.requests / elapsed:.0f} requests/s")
    print(f"jobs in the queue afterwards: {queued} (expected {args.requests})")
    print(f"mean latency {statistics.mean(latencies) * 1000:.0f} ms; all answered after "
          f"{answered:.2f} s, all enqueued after {elapsed:.2f} s")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    for name in ("base", "gateway", "token", "redis", "data"):
        parser.add_argument(f"--{name}", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        asyncio.run(run_child(args))
        return
    with tempfile.TemporaryDirectory(prefix="reelbot-frontend-") as tmp:
        asyncio.run(run_bench(args, Path(tmp)))


if __name__ == "__main__":
    main()
