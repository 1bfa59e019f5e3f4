"""The AnimateDiff backend on `builtin:tiny`: native camera through MotionLoRA adapters.

The tiny model carries eight random LoRA adapters named like guoyww's camera MotionLoRAs, so
`set_adapters` runs exactly as in production; only `load_lora_weights` from the hub is skipped.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from core.capabilities import capabilities_for
from core.spec import RenderSpec
from worker.backends import load_backend
from worker.backends.animatediff import (
    CAMERA_ADAPTERS,
    CAPABILITIES,
    MOTION_LORAS,
    AnimateDiffBackend,
    camera_adapters,
    native_frames,
    save_memory,
)
from worker.motion import MOTION_LORA_SCALE


@pytest.fixture(scope="module")
def backend() -> AnimateDiffBackend:
    built = load_backend("animatediff", model="builtin:tiny", device="cpu")
    assert isinstance(built, AnimateDiffBackend)
    return built


@pytest.fixture(scope="module")
def plain(backend: AnimateDiffBackend) -> np.ndarray:
    """The default clip with no camera: every LoRA off."""
    return render(backend, make_spec())


def make_spec(**changes: object) -> RenderSpec:
    fields: dict[str, object] = {
        "prompt": "a red fox running through snow",
        "aspect_ratio": "1:1",
        "width": 64,
        "height": 64,
        "num_frames": 24,  # 1 s at 24 fps: 8 native frames at 8 fps
        "fps": 24,
        "steps": 2,
        "seed": 7,
    }
    return RenderSpec(**(fields | changes))


_DURING: dict[int, tuple[list[str], dict[str, float]]] = {}  # backend → its LoRAs mid-render


def render(backend: AnimateDiffBackend, spec: RenderSpec) -> np.ndarray:
    def on_step(step: int, total: int) -> None:
        _DURING[id(backend)] = _lora_state_now(backend)

    return backend.render(spec, on_step).frames


def lora_state(backend: AnimateDiffBackend) -> tuple[list[str], dict[str, float]]:
    """The adapters active in the motion modules while the latest clip denoised, and their
    scales (after a clip every LoRA is off: `worker.styles`)."""
    return _DURING[id(backend)]


def _lora_state_now(backend: AnimateDiffBackend) -> tuple[list[str], dict[str, float]]:
    """The adapters active in the UNet's motion modules and their scales, read off one layer."""
    for name, module in backend.pipe.unet.named_modules():
        if "motion_modules" in name and hasattr(module, "scaling") and module.scaling:
            active = list(module.active_adapters) if not module.disable_adapters else []
            return active, dict(module.scaling)
    raise AssertionError("no LoRA layer in the motion modules")


def test_renders_deterministically_and_reports_steps(
    backend: AnimateDiffBackend, plain: np.ndarray
) -> None:
    steps: list[tuple[int, int]] = []
    clip = backend.render(make_spec(), lambda s, t: steps.append((s, t)))

    assert clip.frames.shape == (8, 64, 64, 3) and clip.frames.dtype == np.uint8
    assert clip.fps == 8 and steps == [(1, 2), (2, 2)]
    assert np.array_equal(clip.frames, plain)
    assert not np.array_equal(clip.frames, render(backend, make_spec(seed=8)))


@pytest.mark.parametrize(
    ("camera", "motion", "adapters"),
    [
        ("pan left", 1, ["pan-left"]),
        ("pan up right", 3, ["tilt-up", "pan-right"]),
        ("rotate counterclockwise", 4, ["rolling-anticlockwise"]),
    ],
)
def test_the_camera_picks_its_motion_loras_at_the_motion_scale(
    backend: AnimateDiffBackend,
    plain: np.ndarray,
    camera: str,
    motion: int,
    adapters: list[str],
) -> None:
    frames = render(backend, make_spec(camera=camera, motion=motion))

    active, scaling = lora_state(backend)
    assert sorted(active) == sorted(adapters)
    for name in adapters:  # peft keeps weight * alpha / r; alpha == r here
        assert scaling[name] == pytest.approx(MOTION_LORA_SCALE[motion])
    assert not np.array_equal(frames, plain)  # the LoRAs act


def test_no_camera_turns_every_lora_off(backend: AnimateDiffBackend, plain: np.ndarray) -> None:
    render(backend, make_spec(camera="zoom out"))
    assert np.array_equal(render(backend, make_spec(camera="static")), plain)
    assert lora_state(backend)[0] == []


def test_every_camera_value_has_adapters_that_exist() -> None:
    from typing import get_args

    from core.spec import Camera

    assert set(CAMERA_ADAPTERS) == set(get_args(Camera))
    for names in CAMERA_ADAPTERS.values():
        assert set(names) <= set(MOTION_LORAS)
    assert camera_adapters("pan down left", 2) == (["tilt-down", "pan-left"], [0.8, 0.8])
    assert camera_adapters(None, 2) == ([], [])


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"mode": "i2v"}, "mode='i2v'"),
        ({"num_frames": 24 * 5}, "num_frames=120"),
    ],
)
def test_unrenderable_specs_are_refused_by_name(
    backend: AnimateDiffBackend, change: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        backend.render(make_spec(**change), lambda s, t: None)


@pytest.mark.parametrize(("seconds", "frames"), [(0.5, 8), (2.0, 16), (3.0, 24), (4.0, 32)])
def test_frame_count(seconds: float, frames: int) -> None:
    assert native_frames(seconds) == frames


def test_capabilities() -> None:
    caps = capabilities_for("animatediff")
    assert caps == CAPABILITIES and caps.native_camera and caps.modes == ("t2v", "illusion")
    assert caps.snap_size(1, 1) == (512, 512)


def test_the_real_models_memory_saving_applies_to_this_pipeline_class(
    backend: AnimateDiffBackend, plain: np.ndarray
) -> None:
    """What `load` does only to real weights, tried on the same pipeline class here."""
    save_memory(backend.pipe)
    assert backend.pipe.vae.use_slicing
    backend.pipe.vae.disable_slicing()
