"""The tiny backend runs the real diffusers LTXPipeline, deterministically, with no download."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from core.capabilities import capabilities_for
from core.spec import RenderSpec
from worker.backends import load_backend
from worker.backends.tiny import CAPABILITIES, TinyBackend, load, native_frames

ROOT = Path(__file__).resolve().parents[2]


class Cancelled(Exception):
    pass


@pytest.fixture(scope="module")
def backend() -> TinyBackend:
    built = load_backend("tiny", device="cpu")
    assert isinstance(built, TinyBackend)
    return built


def make_spec(**changes: object) -> RenderSpec:
    """A default clip as the bot would ask for it: 16:9, default length at 24 fps."""
    width, height = CAPABILITIES.snap_size(16, 9)
    fields: dict[str, object] = {
        "prompt": "a red fox running through snow at sunset",
        "aspect_ratio": "16:9",
        "width": width,
        "height": height,
        "num_frames": int(CAPABILITIES.default_seconds * 24),
        "fps": 24,
        "steps": CAPABILITIES.default_steps,
        "seed": 1234,
    }
    return RenderSpec(**(fields | changes))


def render(backend: TinyBackend, spec: RenderSpec) -> np.ndarray:
    return backend.render(spec, lambda step, total: None).frames


def test_renders_native_frames_at_the_spec_size(backend: TinyBackend) -> None:
    spec = make_spec()
    steps: list[tuple[int, int]] = []

    clip = backend.render(spec, lambda step, total: steps.append((step, total)))

    # 2 s at 8 fps is 16 frames, rounded up to LTX's 8k+1.
    assert clip.frames.shape == (17, spec.height, spec.width, 3)
    assert clip.frames.dtype == np.uint8
    assert clip.fps == CAPABILITIES.native_fps
    assert steps == [(i, spec.steps) for i in range(1, spec.steps + 1)]
    assert clip.frames.std() > 1  # a picture, not a flat field


def test_same_seed_gives_identical_frames(backend: TinyBackend) -> None:
    assert np.array_equal(render(backend, make_spec()), render(backend, make_spec()))


@pytest.mark.parametrize(
    "change",
    [
        {"seed": 1235},
        {"prompt": "a lighthouse in a storm"},
        {"negative_prompt": "blurry"},
        {"guidance_scale": 24.0},
    ],
)
def test_seed_prompt_and_guidance_change_the_clip(
    backend: TinyBackend, change: dict[str, object]
) -> None:
    assert not np.array_equal(render(backend, make_spec()), render(backend, make_spec(**change)))


def test_another_process_renders_the_identical_clip(backend: TinyBackend, tmp_path: Path) -> None:
    spec = make_spec(seed=99)
    out = tmp_path / "frames.npy"
    script = (
        "import sys, numpy as np\n"
        "from worker.backends.tiny import load\n"
        "from core.spec import RenderSpec\n"
        "spec = RenderSpec.model_validate_json(sys.argv[1])\n"
        "np.save(sys.argv[2], load(device='cpu').render(spec, lambda s, t: None).frames)\n"
    )
    env = os.environ | {"PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
    subprocess.run(
        [sys.executable, "-c", script, spec.model_dump_json(), str(out)],
        cwd=ROOT,
        env=env,
        check=True,
        timeout=120,
    )

    assert np.array_equal(np.load(out), render(backend, spec))


def test_raising_in_on_step_stops_the_render(backend: TinyBackend) -> None:
    steps: list[int] = []

    def on_step(step: int, total: int) -> None:
        steps.append(step)
        if step == 2:
            raise Cancelled

    with pytest.raises(Cancelled):
        backend.render(make_spec(steps=6), on_step)
    assert steps == [1, 2]
    # The pipeline is free again and renders as before.
    assert render(backend, make_spec()).shape[0] == 17


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"width": 200}, "width=200"),
        ({"height": 280}, "height=280"),
        ({"num_frames": 24 * 5}, "num_frames=120"),
        ({"mode": "i2v"}, "i2v"),
    ],
)
def test_unrenderable_specs_are_refused_by_name(
    backend: TinyBackend, change: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        backend.render(make_spec(**change), lambda step, total: None)


@pytest.mark.parametrize(
    ("seconds", "frames"), [(0.5, 9), (1.0, 9), (1.5, 17), (2.0, 17), (3.0, 25), (4.0, 33)]
)
def test_native_frame_count_is_8k_plus_1_covering_the_duration(seconds: float, frames: int) -> None:
    assert native_frames(seconds) == frames


def test_a_model_argument_is_refused() -> None:
    with pytest.raises(ValueError, match="model="):
        load(model="Lightricks/LTX-Video")


def test_capabilities_fit_the_ltx_grid() -> None:
    assert capabilities_for("tiny") == CAPABILITIES
    for ratio in [(16, 9), (9, 16), (1, 1), (4, 5), (5, 2), (2, 5)]:
        width, height = CAPABILITIES.snap_size(*ratio)
        assert width % 32 == 0 and height % 32 == 0
    assert CAPABILITIES.snap_size(16, 9) == (512, 288)


def test_module_imports_without_torch() -> None:
    script = (
        "import sys\n"
        "for name in ('torch', 'diffusers', 'transformers'):\n"
        "    sys.modules[name] = None\n"
        "import worker.backends.tiny as tiny\n"
        "print(tiny.CAPABILITIES.name)\n"
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
    assert result.stdout.strip() == "tiny"


def test_building_leaves_the_callers_random_state_alone() -> None:
    import torch

    before = torch.random.get_rng_state()
    load(device="cpu")
    assert torch.equal(torch.random.get_rng_state(), before)
