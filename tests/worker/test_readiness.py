"""A worker's not-ready record: a failed load is kept a while (not forever), a later worker on the
same host that loads the same settings clears it, and every load failure, the output scan's CLIP
model included, ends the worker with one line (exit 2, which `reelbot up` does not restart)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from cli.status import read_status, render_status
from jobs.keys import not_ready_key
from tests.harness.paths import ROOT
from tests.harness.workers import reelbot_env
from worker import readiness
from worker.model_sources import ModelLoadError
from worker.settings import WorkerConfig

HOST = "render-box"


def started_as(monkeypatch: pytest.MonkeyPatch, pid: int, load: Any) -> None:
    monkeypatch.setattr(readiness.socket, "gethostname", lambda: HOST)
    monkeypatch.setattr(readiness.os, "getpid", lambda: pid)
    monkeypatch.setattr(readiness, "load_models", load)


def fails(config: WorkerConfig) -> Any:
    raise ModelLoadError("REELBOT_MODEL=x: can't load it")


async def test_a_failure_expires_and_a_later_good_load_clears_it(
    redis: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = WorkerConfig(backend="tiny", redis_url="redis://-")
    other = WorkerConfig(backend="wan", redis_url="redis://-")
    started_as(monkeypatch, 111, fails)
    with pytest.raises(ModelLoadError):
        await readiness.load_announced(redis, config)
    started_as(monkeypatch, 112, fails)
    with pytest.raises(ModelLoadError):
        await readiness.load_announced(redis, other)
    assert 0 < await redis.ttl(not_ready_key(f"{HOST}-111")) <= readiness.FAILED_KEPT_S
    shown = render_status(await read_status(redis))
    assert f"{HOST}-111" in shown and "NOT READY" in shown

    started_as(monkeypatch, 222, lambda config: ("backend", "check"))
    assert await readiness.load_announced(redis, config) == ("backend", "check")

    ids = [w["id"] for w in (await read_status(redis))["workers"]]
    assert ids == [f"{HOST}-112"]  # the same settings' failure is gone; the wan one stays


async def test_a_missing_scan_model_is_one_line_and_not_restarted(
    redis: Any, redis_server: Any, tmp_path: Path
) -> None:
    env = reelbot_env(
        redis_server.url,
        tmp_path / "data",
        REELBOT_BACKEND="tiny",
        REELBOT_DEVICE="cpu",
        REELBOT_SCAN_CLASSIFIERS="clip",
        REELBOT_SCAN_CLIP_MODEL="openai/clip-vit-large-patch14",
        HF_HOME=str(tmp_path / "hf"),
    )
    result = subprocess.run(
        [sys.executable, "-m", "worker"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 2, result.stderr  # `reelbot up` restarts any other code
    assert "Traceback" not in result.stderr, result.stderr
    (line,) = [ln for ln in result.stderr.splitlines() if ln.startswith("reelbot worker")]
    assert line.startswith(
        "reelbot worker: not ready: the output scan can't load its classifiers "
        "(REELBOT_SCAN_CLASSIFIERS=clip, REELBOT_SCAN_CLIP_MODEL=openai/clip-vit-large-patch14)"
    ), line
    assert line.endswith("or change REELBOT_SCAN_CLASSIFIERS"), line
    (worker,) = (await read_status(redis))["workers"]
    assert worker["state"] == "failed" and "REELBOT_SCAN_CLIP_MODEL" in worker["reason"]


def test_weights_too_big_for_the_device_are_a_load_error_not_a_crash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Moving the weights to the GPU happens after `from_pretrained`: running out of memory
    there would fail every restart alike, so it ends the worker with one line too (exit 2)."""
    import torch
    from diffusers import StableVideoDiffusionPipeline

    from cli.tiny_models import write_tiny
    from worker.model_sources import load_configured

    def out_of_memory(self: object, *args: object, **kwargs: object) -> None:
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    write_tiny("svd", tmp_path)
    folder = tmp_path / "stabilityai/stable-video-diffusion-img2vid-xt"
    monkeypatch.setattr(StableVideoDiffusionPipeline, "to", out_of_memory)
    config = WorkerConfig(backend="svd", device="cpu", model=str(folder))
    with pytest.raises(ModelLoadError) as caught:
        load_configured(config)
    assert str(caught.value) == (
        "REELBOT_BACKEND=svd on REELBOT_DEVICE=cpu: can't load it: OutOfMemoryError: CUDA out "
        "of memory. Tried to allocate 2.00 GiB; `reelbot models` lists each family's VRAM, "
        "`reelbot models check FOLDER --vram-gb N` whether a folder's weights fit"
    )
