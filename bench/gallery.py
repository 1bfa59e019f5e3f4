"""Gallery page latency at 100,000 clips, on SQLite and on PostgreSQL.

    python bench/gallery.py [--clips 100000] [--requests 500] [--db sqlite,postgresql]
                            [--pg postgresql://postgres@127.0.0.1:5432/test]

Seeds clips (with remix lineage, likes, hidden/deleted/moderated ones) by bulk inserts into a
freshly migrated database (SQLite in a temp folder; PostgreSQL in a new database created here and
dropped after), starts the real gallery server (`run_gallery`) in a child process on a free
port, and times each page kind from this process over loopback, one request at a time. Prints a
table of p50/p95 per page and database. Target: p95 <= 50 ms for every page.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402
import sqlalchemy as sa  # noqa: E402
from sqlalchemy.pool import NullPool  # noqa: E402

from gallery.db import make_engine, migrate  # noqa: E402
from gallery.models import Generation, Like, Member  # noqa: E402
from gallery.paging import hot_score  # noqa: E402

WORDS = [
    "fox",
    "cat",
    "dog",
    "owl",
    "whale",
    "robot",
    "dragon",
    "knight",
    "astronaut",
    "city",
    "forest",
    "ocean",
    "desert",
    "mountain",
    "river",
    "neon",
    "rainy",
    "snowy",
    "sunny",
    "foggy",
    "golden",
    "misty",
    "cyberpunk",
    "vintage",
    "cinematic",
    "anime",
    "watercolor",
    "portrait",
    "landscape",
    "closeup",
    "aerial",
    "underwater",
    "night",
    "dawn",
    "dusk",
    "storm",
    "lantern",
    "castle",
    "train",
    "bicycle",
    "car",
    "ship",
    "balloon",
    "garden",
    "library",
    "market",
    "bridge",
    "tower",
    "temple",
    "volcano",
    "glacier",
    "canyon",
    "meadow",
    "jungle",
    "village",
    "harbor",
    "subway",
    "rooftop",
    "carnival",
    "festival",
    "dancer",
    "painter",
    "sailor",
    "pilot",
    "wizard",
    "ghost",
    "unicorn",
    "tiger",
    "panda",
    "koala",
    "penguin",
    "jellyfish",
    "butterfly",
    "firefly",
    "candle",
    "mirror",
]
CAMERAS = [None, "zoom in", "zoom out", "pan left", "pan right", "static", "rotate clockwise"]
ASPECTS = [("16:9", 1024, 576), ("9:16", 576, 1024), ("1:1", 768, 768), ("4:5", 640, 800)]
BACKENDS = ["tiny", "ltx", "wan"]
NOW = datetime.now(UTC)


def seed(url: str, clips: int, members: int = 2000) -> dict[str, Any]:
    """Bulk-insert the data set; returns ids to request (public clips, members, remixed)."""
    rng = random.Random(42)
    engine = make_engine(url)
    migrate(engine)
    started = time.perf_counter()
    member_ids = [f"discord:{10**17 + n}" for n in range(members)]
    member_rows = [
        {"id": m, "display_name": f"member {n}", "created_at": NOW - timedelta(days=400)}
        for n, m in enumerate(member_ids)
    ]
    ids: list[str] = []
    rows: list[dict[str, Any]] = []
    likes: list[dict[str, Any]] = []
    public: list[str] = []
    owners: set[str] = set()
    parents: set[str] = set()
    for n in range(clips):
        gid = uuid.UUID(int=rng.getrandbits(128)).hex
        # Older first, so a remix's parent always exists and is older.
        finished = NOW - timedelta(seconds=(clips - n) * (365 * 86400 / clips))
        aspect, width, height = rng.choice(ASPECTS)
        roll = rng.random()
        status = "done" if roll < 0.97 else rng.choice(["failed", "queued"])
        hidden = rng.random() < 0.02
        deleted = finished if rng.random() < 0.01 else None
        moderation = "ok" if rng.random() > 0.01 else rng.choice(["held", "hidden", "removed"])
        like_count = min(int(rng.paretovariate(1.2)) - 1, members - 1) if status == "done" else 0
        parent = rng.choice(ids[-5000:]) if ids and rng.random() < 0.2 else None
        prompt = " ".join(rng.choice(WORDS) for _ in range(rng.randint(4, 9)))
        spec = {"prompt": prompt, "seed": n, "guidance_scale": 12.0, "steps": 30}
        rows.append(
            {
                "id": gid, "owner_id": rng.choice(member_ids), "prompt": prompt,
                "negative_prompt": "blurry", "spec": spec, "backend": rng.choice(BACKENDS),
                "seed": n, "width": width, "height": height, "num_frames": 48, "fps": 24,
                "aspect_ratio": aspect, "camera": rng.choice(CAMERAS), "motion": 1,
                "hidden": hidden, "parent_id": parent, "guild_id": 1, "channel_id": 2,
                "status": status, "attempts": 1, "worker": "bench", "error": None,
                "media_path": f"{gid[:2]}/{gid}.mp4", "size_bytes": 500_000,
                "timings": {"denoise": 2.0, "encode": 0.3}, "discord_message_id": None,
                "like_count": like_count, "deleted_at": deleted, "created_at": finished,
                "started_at": finished, "finished_at": finished if status == "done" else None,
                "updated_at": finished, "moderation": moderation,
                "hot_score": hot_score(like_count, finished) if status == "done" else None,
            }
        )  # fmt: skip
        likes += [
            {"generation_id": gid, "member_id": m, "created_at": finished}
            for m in rng.sample(member_ids, like_count)
        ]
        ids.append(gid)
        if parent:
            parents.add(parent)
        if status == "done" and not hidden and deleted is None and moderation == "ok":
            public.append(gid)
            owners.add(rows[-1]["owner_id"])
    with engine.begin() as conn:
        conn.execute(sa.insert(Member), member_rows)
        for start in range(0, len(rows), 5000):
            conn.execute(sa.insert(Generation), rows[start : start + 5000])
        for start in range(0, len(likes), 20000):
            conn.execute(sa.insert(Like), likes[start : start + 20000])
    if engine.dialect.name == "postgresql":
        # What autovacuum does soon after a bulk load: statistics, and the GIN pending list
        # flushed. SQLite gets nothing: the gallery never runs ANALYZE there, and its plans
        # must be right without statistics.
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")
    seconds = time.perf_counter() - started
    engine.dispose()
    remixed = [gid for gid in public if gid in parents]
    print(
        f"  seeded {clips:,} clips, {len(likes):,} likes, {len(public):,} public, "
        f"{len(remixed):,} remixed, in {seconds:.1f} s",
        flush=True,
    )
    return {"public": public, "members": sorted(owners), "remixed": remixed}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_server(url: str, data: Path, port: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "REELBOT_DATABASE_URL": url,
        "REELBOT_DATA_DIR": str(data),
        "REELBOT_GALLERY_PORT": str(port),
    }
    code = "from gallery.settings import GallerySettings as S; from gallery.web import run_gallery as r; r(S())"  # noqa: E501
    return subprocess.Popen([sys.executable, "-c", code], env=env, cwd=data)


async def measure(base: str, ids: dict[str, Any], requests: int) -> dict[str, list[float]]:
    rng = random.Random(7)
    timings: dict[str, list[float]] = {}
    async with aiohttp.ClientSession() as session:
        for _ in range(200):
            try:
                async with session.get(base + "/healthz") as response:
                    if response.status == 200:
                        break
            except aiohttp.ClientConnectionError:
                pass
            await asyncio.sleep(0.1)

        async def get(kind: str, path: str) -> dict[str, Any] | None:
            started = time.perf_counter()
            async with session.get(base + path) as response:
                body = await response.read()
                assert response.status == 200, (path, response.status, body[:300])
            timings.setdefault(kind, []).append(time.perf_counter() - started)
            if path.startswith("/api/"):
                import json

                result: dict[str, Any] = json.loads(body)
                return result
            return None

        # Home pages, each sort followed a few pages deep through its cursors (API for cursors).
        async def pages(kind: str, html: str, api: str) -> None:
            done = 0
            while done < requests:
                cursor = None
                for _depth in range(10):
                    if done >= requests:
                        return
                    sep = "&" if "?" in html else "?"
                    suffix = f"{sep}cursor={cursor}" if cursor else ""
                    await get(kind, html + suffix)
                    body = await get(kind + " (api)", api + (suffix.replace("?", "&", 1)))
                    done += 1
                    cursor = body["next"] if body else None
                    if not cursor:
                        break

        await pages("home new", "/", "/api/clips?sort=new")
        await pages("top week", "/?sort=top&period=week", "/api/clips?sort=top&period=week")
        await pages("top all", "/?sort=top&period=all", "/api/clips?sort=top&period=all")
        await pages("trending", "/?sort=trending", "/api/clips?sort=trending")
        for _ in range(requests):
            await get("clip page", f"/clips/{rng.choice(ids['remixed'] or ids['public'])}")
        for _ in range(requests):
            await get("lineage (api)", f"/api/clips/{rng.choice(ids['remixed'])}/lineage")
        for _ in range(requests):
            await get("member", f"/members/{rng.choice(ids['members'])}")
        for n in range(requests):
            words = " ".join(rng.sample(WORDS, 1 + n % 2))
            extra = "" if n % 3 else f"&camera={rng.choice(CAMERAS[1:]).replace(' ', '+')}"
            await get("search", f"/search?q={words.replace(' ', '+')}{extra}")
    return timings


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)]


async def bench_one(name: str, url: str, args: argparse.Namespace, data: Path) -> dict[str, Any]:
    print(f"{name}:", flush=True)
    ids = await asyncio.to_thread(seed, url, args.clips)
    port = free_port()
    server = start_server(url, data, port)
    try:
        timings = await measure(f"http://127.0.0.1:{port}", ids, args.requests)
    finally:
        server.terminate()
        server.wait(timeout=30)
    return timings


def create_pg_database(admin_url: str) -> tuple[str, str]:
    name = f"reelbot_bench_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    admin.dispose()
    return name, admin_url.rsplit("/", 1)[0] + f"/{name}"


def drop_pg_database(admin_url: str, name: str) -> None:
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clips", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=500, help="per page kind")
    parser.add_argument("--db", default="sqlite,postgresql")
    parser.add_argument("--pg", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    results: dict[str, dict[str, list[float]]] = {}
    with tempfile.TemporaryDirectory(prefix="reelbot-bench-") as tmp:
        data = Path(tmp)
        if "sqlite" in args.db:
            url = f"sqlite:///{data / 'sqlite' / 'reelbot.db'}"
            results["SQLite"] = await bench_one("SQLite", url, args, data)
        if "postgresql" in args.db:
            name, url = create_pg_database(args.pg)
            try:
                results["PostgreSQL"] = await bench_one("PostgreSQL", url, args, data)
            finally:
                drop_pg_database(args.pg, name)
    kinds = list(next(iter(results.values())))
    header = f"{'page':<18}" + "".join(f"{db + ' p50':>17}{db + ' p95':>17}" for db in results)
    print(f"\n{args.clips:,} clips; ms per request, one at a time over loopback")
    print(header)
    print("-" * len(header))
    worst = 0.0
    for kind in kinds:
        cells = ""
        for timings in results.values():
            values = timings.get(kind, [0.0])
            p95 = percentile(values, 0.95) * 1000
            worst = max(worst, p95)
            cells += f"{statistics.median(values) * 1000:>17.1f}{p95:>17.1f}"
        print(f"{kind:<18}{cells}")
    print(f"\nworst p95: {worst:.1f} ms (target 50 ms): {'OK' if worst <= 50 else 'OVER'}")


if __name__ == "__main__":
    asyncio.run(main())
