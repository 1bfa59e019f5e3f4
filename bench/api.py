"""Fire POST /v1/clips at one REST API process and print accepted clips per second with p50/p99
latency; then webhook deliveries per second to a local receiver.

    python bench/api.py [--requests 3000] [--concurrency 64] [--deliveries 1000]

The API runs as `reelbot api` runs it (`api.app.run_api`: the gallery on SQLite, a private
Redis, the admission loop, the webhook loops) in a child process; this process is the load
generator, the Redis it starts and the webhook receiver. The requests come in turn from
`--members` tokens, each of a member of its own (caps and the per-token rate raised so nothing is
refused: the figure is the work of taking a clip, not of refusing one). No worker runs: jobs
just queue. Latency is from sending the request to reading the whole 202.

With two cores or more the API gets one to itself and everything else the rest, as
bench/frontend.py measures the bot; `--shared-cores` lets them mix. Besides the rate, it prints
where the CPU goes: the API's event loop, its database threads, and Redis (with the commands
its scripts run). `--profile FILE` writes a pyinstrument profile of the API's event loop
(`pip install pyinstrument`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

RAISED = {  # caps and rates nobody reaches in a bench
    "REELBOT_MAX_IN_FLIGHT": "1000000",
    "REELBOT_MAX_PER_DAY": "1000000",
    "REELBOT_API_RATE_PER_MIN": "100000000",
    "REELBOT_TOXICITY_THRESHOLD": "0",
}


def child_env(args: argparse.Namespace, data: Path, redis_url: str, port: int) -> dict[str, str]:
    return {
        **os.environ,
        **RAISED,
        "REELBOT_DATA_DIR": str(data),
        "REELBOT_DATABASE_URL": f"sqlite:///{data / 'reelbot.db'}",
        "REELBOT_REDIS_URL": redis_url,
        "REELBOT_PUBLIC_URL": "http://gallery.test",
        "REELBOT_API_HOST": "127.0.0.1",
        "REELBOT_API_PORT": str(port),
        "REELBOT_API_WEBHOOK_ALLOW_HTTP": "1",
        "REELBOT_API_WEBHOOK_ALLOW_PRIVATE": "1",
        "REELBOT_BACKEND": "tiny",
        "HF_HUB_OFFLINE": "1",
        "PYTHONUNBUFFERED": "1",
    }


async def run_child(args: argparse.Namespace) -> None:
    """The API process, as `reelbot api` serves it, until SIGTERM."""
    import contextlib
    import signal

    from api.app import run_api
    from api.settings import ApiSettings

    profiler = None
    if args.profile:
        from pyinstrument import Profiler

        profiler = Profiler(async_mode="disabled")
        profiler.start()
    serving = asyncio.ensure_future(
        run_api(ApiSettings(), redis_url=os.environ["REELBOT_REDIS_URL"])
    )
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, serving.cancel)
    with contextlib.suppress(asyncio.CancelledError):
        await serving
    if profiler is not None:
        profiler.stop()
        Path(args.profile).write_text(profiler.output_text(unicode=False, color=False))


def cores_apart() -> tuple[set[int], set[int]] | None:
    """(the API's core, everyone else's), where there are two cores or more."""
    if not hasattr(os, "sched_getaffinity"):
        return None
    cores = sorted(os.sched_getaffinity(0))
    return ({cores[-1]}, set(cores[:-1])) if len(cores) >= 2 else None


def cpu_seconds(pid: int, stat: str = "") -> float:
    """User + system CPU time a process (or, with `stat`, one of its threads) has used so far
    (Linux /proc)."""
    path = Path(stat or f"/proc/{pid}/stat")
    fields = path.read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def loop_seconds(pid: int) -> float:
    """CPU time of the process's main thread: the event loop (the rest is its threads: the
    database calls that `asyncio.to_thread` runs)."""
    return cpu_seconds(pid, f"/proc/{pid}/task/{pid}/stat")


def issue_tokens(data: Path, n: int) -> list[str]:
    """n tokens, each for a member of its own (as `reelbot token create` makes them)."""
    from gallery.api_tokens import TokenStore
    from gallery.db import make_engine, migrate

    engine = make_engine(f"sqlite:///{data / 'reelbot.db'}")
    migrate(engine)
    tokens = TokenStore(engine)
    scopes = ("clips:read", "clips:write", "webhooks:manage")
    made = [
        tokens.create(f"discord:{1000 + i}", 42, "bench", scopes, created_by="cli:bench").plaintext
        for i in range(n)
    ]
    engine.dispose()
    return made


def pct(values: list[float], p: float) -> float:
    return values[min(len(values) - 1, int(p * len(values)))] * 1000


async def post_clips(
    http: Any,
    url: str,
    tokens: list[str],
    n: int,
    concurrency: int,
    *,
    offset: int = 0,
    webhook_url: str | None = None,
) -> tuple[list[float], dict[int, int], float, str]:
    """n POST /v1/clips, `concurrency` at a time: latencies of the 202s, statuses, seconds,
    and one refusal's body (if any) to show."""
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    refusal = ""
    next_i = 0

    async def one(i: int) -> None:
        nonlocal refusal
        body: dict[str, Any] = {"prompt": f"a fox running through snow -motion 3 -seed {i}"}
        if webhook_url:
            body["webhook_url"] = webhook_url
        headers = {"Authorization": f"Bearer {tokens[i % len(tokens)]}"}
        sent = time.perf_counter()
        async with http.post(f"{url}/v1/clips", json=body, headers=headers) as response:
            text = await response.read()
        took = time.perf_counter() - sent
        statuses[response.status] = statuses.get(response.status, 0) + 1
        if response.status == 202:
            latencies.append(took)
        elif not refusal:
            refusal = f"{response.status} {text[:300]!r}"

    async def lane() -> None:
        nonlocal next_i
        while next_i < n:
            i = next_i
            next_i += 1
            await one(offset + i)

    started = time.perf_counter()
    await asyncio.gather(*(lane() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    latencies.sort()
    return latencies, statuses, elapsed, refusal


class Receiver:
    """A webhook receiver on 127.0.0.1: counts each webhook-id once, answers 204."""

    def __init__(self) -> None:
        self.ids: set[str] = set()
        self.first: float | None = None
        self.last = 0.0
        self.url = ""

    async def start(self) -> Any:
        from aiohttp import web

        async def hook(request: web.Request) -> web.Response:
            await request.read()
            now = time.perf_counter()
            self.first = self.first or now
            self.last = now
            self.ids.add(request.headers.get("webhook-id", ""))
            return web.Response(status=204)

        app = web.Application()
        app.router.add_post("/hook", hook)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}/hook"
        return runner


async def wait_up(http: Any, url: str, child: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if child.poll() is not None:
            raise SystemExit(f"the API exited with {child.returncode} before it answered")
        try:
            async with http.get(f"{url}/healthz") as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        await asyncio.sleep(0.1)
    raise SystemExit("the API did not answer /healthz within 60 s")


async def redis_calls(redis_url: str) -> dict[str, int]:
    """Commands Redis has run so far, by name (INFO commandstats)."""
    from redis.asyncio import Redis

    client = Redis.from_url(redis_url)
    try:
        stats = await client.info("commandstats")
    finally:
        await client.aclose()
    return {name.removeprefix("cmdstat_"): int(v["calls"]) for name, v in stats.items()}


async def measure(
    args: argparse.Namespace, url: str, tokens: list[str], pid: int, redis: Any
) -> None:
    import aiohttp

    connector = aiohttp.TCPConnector(limit=args.concurrency)
    async with aiohttp.ClientSession(connector=connector) as http:
        # Warm-up: imports, first connections and the SQLite cache stay out of the figures.
        await post_clips(http, url, tokens, 200, args.concurrency, offset=10**6)
        calls = await redis_calls(redis.url)
        redis_cpu = cpu_seconds(redis.process.pid)
        api_cpu, api_loop = cpu_seconds(pid), loop_seconds(pid)
        here_cpu = time.process_time()
        latencies, statuses, elapsed, refusal = await post_clips(
            http, url, tokens, args.requests, args.concurrency
        )
        api_cpu, api_loop = cpu_seconds(pid) - api_cpu, loop_seconds(pid) - api_loop
        redis_cpu = cpu_seconds(redis.process.pid) - redis_cpu
        after = await redis_calls(redis.url)
        ran = {k: after[k] - calls.get(k, 0) for k in after if after[k] > calls.get(k, 0)}
        here_cpu = time.process_time() - here_cpu
        n, ok = args.requests, len(latencies)
        where = "on a core of its own" if args.apart else "sharing cores"
        print(f"{n} POST /v1/clips, {args.concurrency} at a time, {len(tokens)} members, against "
              f"one API process {where} ({os.cpu_count()} cores)")  # fmt: skip
        print(f"accepted (202): {ok}/{n}; statuses {json.dumps(statuses)}"
              + (f"; first refusal: {refusal}" if refusal else ""))  # fmt: skip
        if latencies:
            print(f"accepted/s: {ok / elapsed:.0f}   latency ms: p50 {pct(latencies, 0.5):.1f}  "
                  f"p99 {pct(latencies, 0.99):.1f}  max {latencies[-1] * 1000:.1f}")  # fmt: skip
        print(f"API process CPU: {api_cpu * 1000 / n:.2f} ms per request -> {n / api_cpu:.0f} "
              f"requests/s on one core")  # fmt: skip
        print(f"  of which the event loop {api_loop * 1000 / n:.2f} ms, database threads "
              f"{(api_cpu - api_loop) * 1000 / n:.2f} ms")  # fmt: skip
        top = sorted(ran.items(), key=lambda kv: -kv[1])[:6]
        print(f"Redis: {redis_cpu * 1000 / n:.2f} ms CPU and {sum(ran.values()) / n:.0f} commands "
              "(those its scripts run included) per request: "
              + ", ".join(f"{k} {v / n:.1f}" for k, v in top))  # fmt: skip
        print(f"load generator CPU: {here_cpu * 1000 / n:.2f} ms per request")
        if args.deliveries:
            await measure_deliveries(args, http, url, tokens)


async def measure_deliveries(
    args: argparse.Namespace, http: Any, url: str, tokens: list[str]
) -> None:
    """Clips with a webhook_url: each one's clip.queued event is delivered to the receiver."""
    receiver = Receiver()
    runner = await receiver.start()
    try:
        n = args.deliveries
        _, statuses, _, refusal = await post_clips(
            http, url, tokens, n, args.concurrency, offset=2 * 10**6, webhook_url=receiver.url
        )
        if statuses.get(202, 0) < n:
            print(f"webhooks: only {statuses} accepted ({refusal}); no delivery figure")
            return
        deadline = time.monotonic() + args.delivery_timeout
        while len(receiver.ids) < n and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        got = len(receiver.ids)
        span = (receiver.last - receiver.first) if receiver.first else 0.0
        rate = f"{(got - 1) / span:.0f}/s" if got > 1 and span > 0 else "n/a"
        print(f"webhook deliveries: {got}/{n} clip.queued events received in {span:.2f} s "
              f"from the first to the last -> {rate}")  # fmt: skip
        print("(one receiver on 127.0.0.1 answering 204; each webhook-id counted once)")
    finally:
        await runner.cleanup()


async def run_bench(args: argparse.Namespace, data: Path) -> None:
    from cli.local_redis import LocalRedis, free_port

    apart = None if args.shared_cores else cores_apart()
    args.apart = apart is not None
    if apart is not None:  # this process and the Redis it starts stay off the API's core
        os.sched_setaffinity(0, apart[1])
    tokens = issue_tokens(data, args.members)
    with LocalRedis(data / "redis", appendonly=False) as redis_server:
        port = free_port()
        command = [sys.executable, __file__, "--child"]
        if args.profile:
            command += ["--profile", args.profile]
        child = subprocess.Popen(command, env=child_env(args, data, redis_server.url, port))
        if apart is not None:
            os.sched_setaffinity(child.pid, apart[0])
        url = f"http://127.0.0.1:{port}"
        try:
            import aiohttp

            async with aiohttp.ClientSession() as http:
                await wait_up(http, url, child)
            await measure(args, url, tokens, child.pid, redis_server)
        finally:
            child.terminate()
            child.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--members", type=int, default=500, help="distinct members (tokens)")
    parser.add_argument(
        "--deliveries", type=int, default=1000, help="clips with a webhook_url (0: skip)"
    )
    parser.add_argument("--delivery-timeout", type=float, default=120.0)
    parser.add_argument(
        "--shared-cores",
        action="store_true",
        help="let the API share cores with the load generator and Redis",
    )
    parser.add_argument(
        "--profile", help="write a pyinstrument profile of the API's event loop to this file"
    )
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        try:
            import uvloop
        except ImportError:
            asyncio.run(run_child(args))
        else:
            uvloop.run(run_child(args))
        return
    with tempfile.TemporaryDirectory(prefix="reelbot-api-bench-") as tmp:
        asyncio.run(run_bench(args, Path(tmp)))


if __name__ == "__main__":
    main()
