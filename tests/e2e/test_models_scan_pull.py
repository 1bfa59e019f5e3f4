"""The output scan's CLIP is a repository like the families': `reelbot models` lists it with its
setting, `reelbot models pull scan` fetches it (here from the local fake hub, serving a tiny CLIP
in openai/clip-vit-large-patch14's layout), and with only REELBOT_SCAN_CLIP_MODEL and
REELBOT_MODELS_DIR set the scan finds it there offline, as the worker loads it."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from cli.tiny_models import write_tiny
from core.models import CLIP_SCAN_REPO
from tests.harness.cli import reelbot
from tests.harness.fakehub import FakeHub

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

CLIP_ID = CLIP_SCAN_REPO.repo_id


async def test_pull_scan_lists_it_and_the_scan_loads_it_offline(
    tmp_path: Path, clips: dict[str, Path]
) -> None:
    write_tiny("scan", tmp_path / "hub")
    models = tmp_path / "models"
    env = {"REELBOT_MODELS_DIR": str(models), "HF_HOME": str(tmp_path / "hf")}
    before = reelbot("models", env=env)
    assert (
        f"CLIP scan (optional): {CLIP_ID}  1.71 GB  [REELBOT_SCAN_CLIP_MODEL]  not downloaded"
    ) in before.stdout

    with FakeHub({CLIP_ID: tmp_path / "hub" / CLIP_ID}) as hub:
        online = {**env, "HF_ENDPOINT": hub.url, "HF_HUB_OFFLINE": "0"}
        pulled = await asyncio.to_thread(
            reelbot, "models", "pull", "scan", "--quiet", env=online, timeout=120
        )
    assert pulled.returncode == 0, pulled.stderr
    lines = pulled.stdout.splitlines()
    assert lines[0].startswith(f"CLIP scan: {CLIP_ID} -> {models / CLIP_ID} (")
    assert lines[-1] == (
        f"ready: REELBOT_SCAN_CLIP_MODEL={CLIP_ID} REELBOT_MODELS_DIR={models} "
        "(the output scan adds CLIP; works with HF_HUB_OFFLINE=1)"
    )
    assert not list((models / CLIP_ID).glob("*.bin"))  # one precision: safetensors only

    after = reelbot("models", env=env)
    assert f"[REELBOT_SCAN_CLIP_MODEL]  pulled: {models / CLIP_ID}" in after.stdout

    # The hub is gone: the scan finds the pulled folder by its hub id.
    scanned = reelbot(
        "scan",
        str(clips["ours"]),
        "--json",
        "--classifiers",
        "clip",
        env={
            **env,
            "REELBOT_DATA_DIR": str(tmp_path / "data"),
            "REELBOT_SCAN_CLIP_MODEL": CLIP_ID,
            "HF_HUB_OFFLINE": "1",
        },
    )
    assert scanned.returncode in (0, 1), scanned.stderr
    report = json.loads(scanned.stdout)
    assert report["classifiers"] == ["clip"]
    assert {"nudity", "minor", "violence"} <= set(report["frames"][0]["scores"])


def test_pull_scan_tiny_writes_the_clip_folder(tmp_path: Path) -> None:
    result = reelbot("models", "pull", "scan", "--tiny", "--dir", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == f"CLIP scan: tiny {CLIP_ID} -> {tmp_path / CLIP_ID}"
    assert (tmp_path / CLIP_ID / "model.safetensors").is_file()
