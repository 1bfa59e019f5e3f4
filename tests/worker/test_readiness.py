"""A worker's not-ready record: a failed load is kept a while (not forever), a later worker on the
same host that loads the same settings clears it, and a failure after the files are read (memory
on the device) is a load error too. The scan's CLIP model: tests/worker/test_worker_not_ready.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from cli.status import read_status, render_status
from jobs.keys import not_ready_key
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
