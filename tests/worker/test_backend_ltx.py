"""The LTX-Video backend on `builtin:tiny`: every mode, through the real diffusers classes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

import worker.camera
from core.capabilities import capabilities_for
from core.spec import RenderSpec
from worker.backends import load_backend
from worker.backends.ltx import CAPABILITIES, DEFAULT_MODEL, LTXBackend
from worker.camera import render_size
from worker.encode import encode_mp4


@pytest.fixture(scope="module")
def backend() -> LTXBackend:
    built = load_backend("ltx", model="builtin:tiny", device="cpu")
    assert isinstance(built, LTXBackend)
    return built


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A picture and a 1 s clip of moving noise, as the worker would hand them over."""
    root = tmp_path_factory.mktemp("media")
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (120, 160, 3), np.uint8)).save(root / "a.png")
    frames = rng.integers(0, 255, (24, 96, 128, 3), np.uint8)
    encode_mp4(frames, 24.0, root / "v.mp4", fps=24, num_frames=24)
    return {"i2v": root / "a.png", "extend": root / "v.mp4", "upscale": root / "v.mp4"}


def make_spec(**changes: object) -> RenderSpec:
    fields: dict[str, object] = {
        "prompt": "a red fox running through snow",
        "aspect_ratio": "4:3",
        "width": 128,
        "height": 96,
        "num_frames": 8,  # a third of a second at 24 fps: 9 native frames
        "fps": 24,
        "steps": 2,
        "seed": 7,
    }
    return RenderSpec(**(fields | changes))


def spec_for(mode: str, **changes: object) -> RenderSpec:
    if mode == "upscale":  # the output size, twice the input's: multiples of 64
        changes = {"width": 128, "height": 128, "aspect_ratio": "1:1"} | changes
    return make_spec(mode=mode, **changes)


def inputs_for(mode: str, media: dict[str, Path]) -> list[Path]:
    return [media[mode]] if mode in media else []


class Spy:
    """Stands in for a pipeline: records each call's keyword arguments, then calls through."""

    def __init__(self, pipe: Any) -> None:
        self.pipe, self.calls = pipe, []

    def __call__(self, **kwargs: Any) -> Any:
        self.calls.append(kwargs)
        return self.pipe(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.pipe, name)


# "frames" (keyframes) has its own tests: tests/worker/test_frames.py
@pytest.mark.parametrize("mode", [m for m in CAPABILITIES.modes if m != "frames"])
def test_every_mode_renders_deterministically(
    backend: LTXBackend, media: dict[str, Path], mode: str
) -> None:
    spec, inputs = spec_for(mode), inputs_for(mode, media)
    steps: list[tuple[int, int]] = []

    clip = backend.render(spec, lambda s, t: steps.append((s, t)), inputs=inputs)

    # Upscale covers the input's length (24 frames -> 8k+1 = 25); the others render 9 frames.
    assert clip.frames.shape == (25 if mode == "upscale" else 9, spec.height, spec.width, 3)
    assert clip.frames.dtype == np.uint8 and clip.fps == 24
    assert steps and steps[-1][0] == steps[-1][1]  # every step reported, to the last
    again = backend.render(spec, lambda s, t: None, inputs=inputs).frames
    other = backend.render(spec_for(mode, seed=8), lambda s, t: None, inputs=inputs).frames
    assert np.array_equal(clip.frames, again)
    assert not np.array_equal(clip.frames, other)


def test_extend_is_conditioned_on_the_input_videos_last_frames(
    backend: LTXBackend, media: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    spy = Spy(backend.condition_pipe)
    monkeypatch.setattr(backend, "condition_pipe", spy)
    backend.render(spec_for("extend"), lambda s, t: None, inputs=[media["extend"]])
    (condition,) = spy.calls[0]["conditions"]
    assert len(condition.video) == 9 and condition.frame_index == 0
    assert condition.video[0].size == (128, 96)


def test_a_camera_move_renders_larger_and_crops_back(
    backend: LTXBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    spy = Spy(backend.pipe)
    monkeypatch.setattr(backend, "pipe", spy)
    travels: list[float] = []
    apply = worker.camera.apply_camera

    def spy_apply(*args: Any, travel: float, **kwargs: Any) -> Any:
        travels.append(travel)
        return apply(*args, travel=travel, **kwargs)

    monkeypatch.setattr(worker.camera, "apply_camera", spy_apply)
    spec = make_spec(camera="pan left", motion=4)

    clip = backend.render(spec, lambda s, t: None)

    assert (spy.calls[0]["width"], spy.calls[0]["height"]) == render_size(128, 96, 32, "pan left")
    assert clip.frames.shape == (9, 96, 128, 3)
    assert travels == [1.0]  # -motion 4: the whole margin


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"mode": "v2v"}, "mode='v2v'"),
        ({"width": 112, "aspect_ratio": "1:1"}, "width=112"),
        ({"num_frames": 24 * 11}, "num_frames=264"),
        ({"mode": "extend", "camera": "zoom in"}, "camera='zoom in'"),
        ({"mode": "upscale", "width": 96}, "multiples of 64"),
        ({"mode": "i2v"}, "exactly one input image"),
    ],
)
def test_unrenderable_specs_are_refused_by_name(
    backend: LTXBackend, change: dict[str, Any], message: str
) -> None:
    inputs = [Path("unused.mp4")] if change.get("mode") in ("extend", "upscale") else []
    with pytest.raises(ValueError, match=message):
        backend.render(make_spec(**change), lambda s, t: None, inputs=inputs)


def test_capabilities() -> None:
    caps = capabilities_for("ltx")
    assert caps == CAPABILITIES
    assert set(caps.modes) == {"t2v", "i2v", "extend", "upscale", "frames"}
    assert caps.snap_size(3, 2) == (768, 512) and caps.frame_step == 8
    assert "distilled" in DEFAULT_MODEL and caps.default_steps == 8 and caps.vram_gb > 0


def test_the_distilled_schedule_renders_text_to_video(backend: LTXBackend) -> None:
    """A distilled checkpoint's 8 explicit timesteps: LTXPipeline would refuse them beside its
    own sigmas, so text-to-video runs through the condition pipeline with no condition."""
    distilled = LTXBackend(
        backend.pipe, Spy(backend.condition_pipe), backend.upsample_pipe, distilled=True
    )
    clip = distilled.render(make_spec(steps=8), lambda step, total: None)
    [call] = distilled.condition_pipe.calls
    assert len(call["timesteps"]) == 8 and "conditions" not in call
    assert clip.frames.shape == (9, 96, 128, 3)
