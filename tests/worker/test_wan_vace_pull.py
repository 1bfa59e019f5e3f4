"""`reelbot models pull wan_vace` from the hub (the local fake hub serving the family's tiny
repositories in their real layout): the VACE pipeline and the region finder land under
REELBOT_MODELS_DIR, and with the hub gone the worker loads both from there alone."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cli.tiny_models import write_tiny
from core.edits import Box, EditSpec
from core.models import family_models
from core.spec import RenderSpec
from tests.harness.cli import reelbot
from tests.harness.fakehub import FakeHub
from worker.backends.wan_vace import WanVaceBackend
from worker.encode import encode_mp4
from worker.model_sources import load_configured
from worker.regions import RegionFinder
from worker.settings import WorkerConfig

pytestmark = pytest.mark.timeout(180)


def test_pull_then_load_offline_from_the_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repos = family_models("wan_vace").repos
    write_tiny("wan_vace", tmp_path / "hub")
    served = {repo.repo_id: tmp_path / "hub" / repo.repo_id for repo in repos}
    models = tmp_path / "models"
    with FakeHub(served) as hub:
        env = {"HF_ENDPOINT": hub.url, "HF_HUB_OFFLINE": "0", "REELBOT_MODELS_DIR": str(models)}
        pulled = reelbot("models", "pull", "wan_vace", "--quiet", env=env, timeout=120)
    assert pulled.returncode == 0, pulled.stderr
    lines = pulled.stdout.splitlines()
    assert [line.split(" (")[0] for line in lines[:2]] == [
        f"main: Wan-AI/Wan2.1-VACE-1.3B-diffusers -> {models}/Wan-AI/Wan2.1-VACE-1.3B-diffusers",
        f"region finder: facebook/sam3 -> {models}/facebook/sam3",
    ]

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    config = WorkerConfig(backend="wan_vace", device="cpu", models_dir=models)  # type: ignore[call-arg]
    backend = load_configured(config)
    assert isinstance(backend, WanVaceBackend)
    parent = tmp_path / "parent.mp4"
    frames = np.random.default_rng(0).integers(0, 255, (12, 64, 64, 3), np.uint8)
    encode_mp4(frames, 24.0, parent, fps=24, num_frames=12)
    spec = RenderSpec(
        prompt="snow",
        aspect_ratio="1:1",
        width=64,
        height=64,
        num_frames=4,
        fps=24,
        steps=1,
        seed=1,
        backend="wan_vace",
        mode="edit",
        edit=EditSpec(kind="modify", box=Box(x=0, y=0, w=50, h=50)),
        input_media=("parent.mp4",),
    )
    assert backend.render(spec, lambda s, t: None, inputs=[parent]).frames.shape == (5, 64, 64, 3)
    finder = backend.finder()  # SAM 3 from its pulled folder, offline
    assert isinstance(finder, RegionFinder) and backend.regions_model == f"{models}/facebook/sam3"
