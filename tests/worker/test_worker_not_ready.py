"""A worker whose model can't be loaded: one line naming the setting, exit 2, and `reelbot status`
shows it as not ready (with the reason), not as dead or absent."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from cli.status import read_status, render_status
from cli.tiny_models import write_tiny
from tests.harness.paths import ROOT
from tests.harness.workers import reelbot_env


def refused_line(env: dict[str, str]) -> str:
    """`python -m worker` run to its end: exit 2 (which `reelbot up` does not restart), no
    traceback, and its one line."""
    result = subprocess.run(
        [sys.executable, "-m", "worker"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    (line,) = [ln for ln in result.stderr.splitlines() if ln.startswith("reelbot worker")]
    return line


@pytest.fixture(scope="module")
def main_only(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The ltx main repository pulled, its spatial upsampler not."""
    root = tmp_path_factory.mktemp("models")
    write_tiny("ltx", root)
    for upsampler in (root / "Lightricks").glob("ltxv-spatial-upscaler-*"):
        for file in sorted(upsampler.rglob("*"), reverse=True):
            file.rmdir() if file.is_dir() else file.unlink()
        upsampler.rmdir()
    return root


async def test_a_missing_upsampler_is_one_line_and_not_ready(
    redis: object, redis_server: object, main_only: Path, tmp_path: Path
) -> None:
    env = reelbot_env(
        redis_server.url,  # type: ignore[attr-defined]
        tmp_path / "data",
        REELBOT_BACKEND="ltx",
        REELBOT_DEVICE="cpu",
        REELBOT_MODELS_DIR=str(main_only),
        HF_HOME=str(tmp_path / "hf"),
    )
    line = refused_line(env)
    assert line.startswith(
        "reelbot worker: not ready: REELBOT_LTX_UPSAMPLER_MODEL="
        "Lightricks/ltxv-spatial-upscaler-0.9.7: can't load it (HF_HUB_OFFLINE is set)"
    ), line
    assert line.endswith("run `reelbot models pull ltx`, or set it to a folder that has it")

    status = await read_status(redis)  # type: ignore[arg-type]
    (worker,) = status["workers"]
    assert worker["ready"] is False and worker["state"] == "failed"
    shown = render_status(status)
    assert "NOT READY (its model failed to load; it exited)" in shown
    assert "REELBOT_LTX_UPSAMPLER_MODEL" in shown
    assert "Workers (0 alive)" in shown


async def test_a_missing_scan_model_is_one_line_and_not_ready(
    redis: object, redis_server: object, tmp_path: Path
) -> None:
    env = reelbot_env(
        redis_server.url,  # type: ignore[attr-defined]
        tmp_path / "data",
        REELBOT_BACKEND="tiny",
        REELBOT_DEVICE="cpu",
        REELBOT_SCAN_CLASSIFIERS="clip",
        REELBOT_SCAN_CLIP_MODEL="openai/clip-vit-large-patch14",
        HF_HOME=str(tmp_path / "hf"),
    )
    line = refused_line(env)
    assert line.startswith(
        "reelbot worker: not ready: the output scan can't load its classifiers "
        "(REELBOT_SCAN_CLASSIFIERS=clip, REELBOT_SCAN_CLIP_MODEL=openai/clip-vit-large-patch14)"
    ), line
    assert line.endswith("or change REELBOT_SCAN_CLASSIFIERS"), line
    (worker,) = (await read_status(redis))["workers"]  # type: ignore[arg-type]
    assert worker["state"] == "failed" and "REELBOT_SCAN_CLIP_MODEL" in worker["reason"]
