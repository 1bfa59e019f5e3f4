"""`reelbot api` and `reelbot up` serve the REST API as an operator runs them: processes of
their own, real Redis, the SQLite file in the data folder."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest

from cli.local_redis import LocalRedis, free_port
from gallery.api_tokens import TokenStore
from gallery.db import make_engine, migrate
from tests.harness.cli import reelbot
from tests.harness.paths import ROOT
from tests.harness.waiting import eventually

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REELBOT_")}
    return {**env, **extra}


def issue(data: Path) -> str:
    engine = make_engine(f"sqlite:///{data / 'reelbot.db'}")
    migrate(engine)
    try:
        return (
            TokenStore(engine).create("discord:7", 42, "cli", ("clips:write",), "cli:t").plaintext
        )
    finally:
        engine.dispose()


async def healthy(url: str) -> int | None:
    try:
        async with aiohttp.ClientSession() as http, http.get(f"{url}/healthz") as answer:
            return answer.status
    except aiohttp.ClientError:
        return None


async def post_clip(url: str, token: str) -> tuple[int, dict]:
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{url}/v1/clips",
            json={"prompt": "a fox -seed 1"},
            headers={"Authorization": f"Bearer {token}"},
        ) as answer,
    ):
        return answer.status, await answer.json()


def test_reelbot_api_without_redis_says_how_to_get_one(tmp_path: Path) -> None:
    result = reelbot("api", env=clean_env(REELBOT_DATA_DIR=str(tmp_path / "data")), timeout=60)
    assert result.returncode == 3
    assert result.stderr.strip() == (
        "reelbot: Set REELBOT_REDIS_URL (or run `reelbot up`, which serves the API)."
    )


async def test_reelbot_api_serves_the_api_on_its_port(
    redis_server: LocalRedis, redis, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    token = issue(data)
    port = free_port()
    env = clean_env(
        REELBOT_DATA_DIR=str(data),
        REELBOT_REDIS_URL=redis_server.url,
        REELBOT_API_PORT=str(port),
        REELBOT_TOXICITY_THRESHOLD="0",
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "cli.main", "api"],
        env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        await eventually(lambda: healthy(url), lambda status: status == 200, timeout=60)
        status, body = await post_clip(url, token)
        assert status == 202, body
        assert body["links"]["self"] == f"{url}/v1/clips/{body['id']}"
    finally:
        process.send_signal(signal.SIGINT)
        output, _ = await asyncio.to_thread(process.communicate, timeout=60)
    assert process.returncode == 0, output
    assert token not in output  # never logged


async def test_reelbot_up_serves_the_api_beside_the_gallery(tmp_path: Path) -> None:
    data = tmp_path / "data"
    token = issue(data)
    env = clean_env(
        REELBOT_DATA_DIR=str(data),
        REELBOT_GALLERY_PORT="0",
        REELBOT_API_PORT="0",
        REELBOT_WORKERS="0",
        REELBOT_TOXICITY_THRESHOLD="0",
    )
    up = subprocess.Popen(
        [sys.executable, "-m", "cli.main", "up", "--no-demo"],
        env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    lines: list[str] = []
    try:
        assert up.stdout is not None
        for line in up.stdout:
            lines.append(line)
            if line.startswith("running"):
                break
        api_line = next(line for line in lines if line.startswith("api:"))
        url = api_line.split()[1]
        assert url.startswith("http://127.0.0.1:") and not url.endswith(":0")
        assert (data / "run" / "api.url").read_text() == url
        assert await healthy(url) == 200
        status, body = await post_clip(url, token)
        assert status == 202, body
    finally:
        up.send_signal(signal.SIGINT)
        await asyncio.to_thread(up.wait, timeout=60)
    assert up.returncode == 0, "".join(lines)
    assert not (data / "run" / "api.url").exists()
