"""An operator's wrong setting or missing service, as the processes answer it: a non-zero exit
and one line per problem that names the `REELBOT_` variable, never a traceback or a password."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.harness.cli import reelbot
from tests.harness.paths import ROOT

SECRET = "hunter2pw"
NOWHERE_PG = f"postgresql+psycopg://reelbot:{SECRET}@127.0.0.1:1/reelbot"  # refuses at once
NOWHERE_REDIS = f"redis://:{SECRET}@127.0.0.1:1/0"


def told(result: subprocess.CompletedProcess[str], *settings: str) -> list[str]:
    """The problem lines, after checking what every such answer must be."""
    output = result.stdout + result.stderr
    assert "Traceback" not in output, output
    assert SECRET not in output, output
    lines = [line for line in result.stderr.splitlines() if line.startswith("reelbot")]
    for setting in settings:
        assert any(setting in line for line in lines), result.stderr
    return lines


@pytest.mark.parametrize(
    "args, env, settings",
    [
        (["status"], {"REELBOT_REDIS_URL": "nonsense"}, ["REELBOT_REDIS_URL"]),
        (["status"], {"REELBOT_REDIS_URL": f"redis://:{SECRET}@cache:63a9/0"}, ["REDIS_URL"]),
        (["create", "a fox"], {"REELBOT_REDIS_URL": f"redis://{SECRET}@cache:99999"}, ["REDIS"]),
        (
            ["gallery"],
            {"REELBOT_GALLERY_PORT": "eighty", "REELBOT_MEDIA_STORE": "ftp"},
            ["REELBOT_GALLERY_PORT", "REELBOT_MEDIA_STORE"],
        ),
        (
            ["gallery"],
            {"REELBOT_DATABASE_URL": f"postgresql://reelbot:{SECRET}@db:port/reelbot"},
            ["REELBOT_DATABASE_URL"],
        ),
        (["verify", "README.md"], {"REELBOT_DATABASE_URL": "nonsense"}, ["REELBOT_DATABASE_URL"]),
        (
            ["create", "a fox"],
            {"REELBOT_ROLE_LIMITS": '{"1": {"in_flight": "many"}}'},
            ["REELBOT_ROLE_LIMITS"],
        ),
    ],
)
def test_a_bad_setting_is_one_line_naming_it(
    tmp_path: Path, args: list[str], env: dict[str, str], settings: list[str]
) -> None:
    result = reelbot(*args, env={"REELBOT_DATA_DIR": str(tmp_path), **env})
    assert result.returncode == 3, result.stderr
    lines = told(result, *settings)
    assert len(lines) == len(settings), result.stderr  # one line per bad setting


@pytest.mark.parametrize("args", [["gallery"], ["up", "--no-demo"]])
def test_an_unreachable_database_is_one_line_naming_its_setting(
    tmp_path: Path, args: list[str]
) -> None:
    env = {
        "REELBOT_DATA_DIR": str(tmp_path),
        "REELBOT_DATABASE_URL": NOWHERE_PG,
        "REELBOT_GALLERY_PORT": "0",
        "REELBOT_WORKERS": "0",
    }
    result = reelbot(*args, env=env, timeout=120)
    assert result.returncode == 3, result.stderr
    (line,) = told(result, "REELBOT_DATABASE_URL")
    assert "127.0.0.1:1" in line and "refused" in line


def worker(env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """`python -m worker` as `reelbot up` and the compose file start it."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("REELBOT_")}
    return subprocess.run(
        [sys.executable, "-m", "worker"],
        capture_output=True,
        text=True,
        timeout=180,
        env={**clean, "REELBOT_DATA_DIR": str(tmp_path), "HF_HUB_OFFLINE": "1", **env},
        cwd=ROOT,
    )


@pytest.mark.parametrize(
    "env, settings",
    [
        ({"REELBOT_REDIS_URL": "nonsense"}, ["REELBOT_REDIS_URL"]),
        ({"REELBOT_REDIS_URL": f"redis://:{SECRET}@cache:63a9/0"}, ["REELBOT_REDIS_URL"]),
        (
            {"REELBOT_REDIS_URL": "redis://cache", "REELBOT_DATABASE_URL": "nonsense"},
            ["REELBOT_DATABASE_URL"],
        ),
        (
            {"REELBOT_REDIS_URL": "redis://cache", "REELBOT_SCAN_HOLD": "{nudity: high}"},
            ["REELBOT_SCAN_HOLD"],
        ),
        (
            {"REELBOT_REDIS_URL": "redis://cache", "REELBOT_LEASE_S": "0", "REELBOT_DEVICE": ""},
            ["REELBOT_LEASE_S"],
        ),
        ({}, ["REELBOT_REDIS_URL"]),
    ],
)
def test_a_worker_with_a_bad_setting_exits_2_naming_it(
    tmp_path: Path, env: dict[str, str], settings: list[str]
) -> None:
    result = worker(env, tmp_path)
    assert result.returncode == 2, result.stderr  # `reelbot up`: don't restart it
    lines = told(result, *settings)
    assert len(lines) == len(settings) and all("bad settings" in line for line in lines)


@pytest.mark.slow
def test_a_worker_whose_redis_is_away_exits_3_naming_it(tmp_path: Path) -> None:
    result = worker({"REELBOT_REDIS_URL": NOWHERE_REDIS}, tmp_path)
    assert result.returncode == 3, result.stderr  # a restart may find it up
    (line,) = told(result, "REELBOT_REDIS_URL")
    assert "redis://:***@127.0.0.1:1/0" in line


@pytest.mark.slow
def test_a_worker_whose_database_is_away_exits_3_naming_it(redis_server, tmp_path: Path) -> None:
    result = worker(
        {"REELBOT_REDIS_URL": redis_server.url, "REELBOT_DATABASE_URL": NOWHERE_PG}, tmp_path
    )
    assert result.returncode == 3, result.stderr
    (line,) = told(result, "REELBOT_DATABASE_URL")
    assert "postgresql+psycopg://reelbot:***@127.0.0.1:1/reelbot" in line
