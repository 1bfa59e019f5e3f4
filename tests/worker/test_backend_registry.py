"""The real model families as the bot sees them: registered, importable without torch, and
their `-motion` tables (`worker.motion`) monotone and in range."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.capabilities import UnknownBackend, capabilities_for
from core.spec import MAX_MOTION, MIN_MOTION
from worker.backends import BACKENDS
from worker.motion import (
    CAMERA_TRAVEL,
    MOTION_LORA_SCALE,
    SVD_MOTION_BUCKET,
    SVD_NOISE_AUG,
    camera_travel,
    motion_lora_scale,
    svd_motion,
)

ROOT = Path(__file__).resolve().parents[2]
FAMILIES = ("ltx", "wan", "animatediff", "svd", "ltx2")


def test_every_family_is_registered_with_sizes_on_its_grid() -> None:
    for name in FAMILIES:
        assert name in BACKENDS
        caps = capabilities_for(name)
        assert caps.name == name and caps.vram_gb > 0
        assert caps.default_seconds <= caps.max_seconds
        lo, hi = caps.guidance_range
        assert lo <= hi
        for ratio in [(16, 9), (9, 16), (1, 1), (5, 2), (2, 5)]:
            width, height = caps.snap_size(*ratio)
            assert width % caps.size_multiple == 0 and height % caps.size_multiple == 0
        assert caps.native_camera == (name == "animatediff")


def test_an_operators_own_backend_loads_by_dotted_path() -> None:
    assert capabilities_for("tests.faults.backends") == capabilities_for("tiny")
    for name in ("nonesuch", "nonesuch.backend", "worker.backends.nonesuch"):
        with pytest.raises(UnknownBackend, match="dotted path"):
            capabilities_for(name)


def test_backend_modules_import_without_torch() -> None:
    """The bot reads CAPABILITIES; it never installs torch, diffusers or transformers."""
    script = (
        "import sys\n"
        "for name in ('torch', 'diffusers', 'transformers', 'peft', 'av'):\n"
        "    sys.modules[name] = None\n"
        "import importlib\n"
        f"for name in {FAMILIES!r}:\n"
        "    print(importlib.import_module('worker.backends.' + name).CAPABILITIES.name)\n"
        "import worker.camera, worker.motion\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=os.environ | {"PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == list(FAMILIES)


@pytest.mark.parametrize(
    "table", [SVD_MOTION_BUCKET, SVD_NOISE_AUG, MOTION_LORA_SCALE, CAMERA_TRAVEL]
)
def test_each_motion_table_has_a_value_per_level_rising_with_motion(
    table: tuple[float, ...],
) -> None:
    assert len(table) == MAX_MOTION - MIN_MOTION + 1
    assert list(table) == sorted(table)


@pytest.mark.parametrize(
    ("motion", "bucket", "noise", "lora", "travel"),
    [
        (0, 40, 0.02, 0.4, 0.2),
        (1, 80, 0.02, 0.6, 0.5),
        (2, 127, 0.03, 0.8, 0.7),
        (3, 180, 0.05, 1.0, 0.85),
        (4, 255, 0.08, 1.2, 1.0),
    ],
)
def test_the_documented_motion_mapping(
    motion: int, bucket: int, noise: float, lora: float, travel: float
) -> None:
    assert svd_motion(motion) == {"motion_bucket_id": bucket, "noise_aug_strength": noise}
    assert motion_lora_scale(motion) == lora
    assert camera_travel(motion) == travel


def test_motion_out_of_range_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="motion=5"):
        svd_motion(5)
