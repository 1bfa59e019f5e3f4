"""The Wan backend on `builtin:tiny`: t2v, i2v (TI2V-style, one transformer) and v2v restyle."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from core.capabilities import capabilities_for
from core.spec import RenderSpec
from worker.backends import load_backend
from worker.backends.wan import CAPABILITIES, WanBackend
from worker.camera import render_size
from worker.encode import encode_mp4


@pytest.fixture(scope="module")
def backend() -> WanBackend:
    built = load_backend("wan", model="builtin:tiny", device="cpu")
    assert isinstance(built, WanBackend)
    return built


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("media")
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (80, 80, 3), np.uint8)).save(root / "a.png")
    frames = rng.integers(0, 255, (12, 64, 64, 3), np.uint8)
    encode_mp4(frames, 24.0, root / "v.mp4", fps=24, num_frames=12)
    return {"i2v": root / "a.png", "v2v": root / "v.mp4"}


def make_spec(**changes: object) -> RenderSpec:
    fields: dict[str, object] = {
        "prompt": "a red fox running through snow",
        "aspect_ratio": "1:1",
        "width": 64,
        "height": 64,
        "num_frames": 4,  # 1/6 s at 24 fps: 4k+1 = 5 native frames
        "fps": 24,
        "steps": 2,
        "seed": 7,
    }
    return RenderSpec(**(fields | changes))


class Spy:
    """Stands in for a pipeline: records each call's keyword arguments, then calls through."""

    def __init__(self, pipe: Any) -> None:
        self.pipe, self.calls = pipe, []

    def __call__(self, **kwargs: Any) -> Any:
        self.calls.append(kwargs)
        return self.pipe(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.pipe, name)


@pytest.mark.parametrize("mode", CAPABILITIES.modes)
def test_every_mode_renders_deterministically(
    backend: WanBackend, media: dict[str, Path], mode: str
) -> None:
    spec = make_spec(mode=mode)
    inputs = [media[mode]] if mode in media else []
    steps: list[tuple[int, int]] = []

    clip = backend.render(spec, lambda s, t: steps.append((s, t)), inputs=inputs)

    assert clip.frames.shape == (5, 64, 64, 3)
    assert clip.frames.dtype == np.uint8 and clip.fps == 24
    assert steps and steps[-1] == (steps[-1][1], steps[-1][1]) and len(steps) == spec.steps
    again = backend.render(spec, lambda s, t: None, inputs=inputs).frames
    other = backend.render(make_spec(mode=mode, seed=8), lambda s, t: None, inputs=inputs).frames
    assert np.array_equal(clip.frames, again)
    assert not np.array_equal(clip.frames, other)


def test_the_three_modes_share_one_transformer(backend: WanBackend) -> None:
    assert backend.image_pipe is not None
    for pipe in (backend.image_pipe, backend.video_pipe):
        for name in ("transformer", "vae", "text_encoder", "scheduler"):
            assert getattr(pipe, name) is getattr(backend.pipe, name)
    assert backend.image_pipe.config.expand_timesteps  # TI2V: the picture as a clean frame


def test_a_camera_move_renders_larger_and_crops_back(
    backend: WanBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    spy = Spy(backend.pipe)
    monkeypatch.setattr(backend, "pipe", spy)
    clip = backend.render(make_spec(camera="zoom out"), lambda s, t: None)
    assert (spy.calls[0]["width"], spy.calls[0]["height"]) == render_size(64, 64, 32, "zoom out")
    assert clip.frames.shape == (5, 64, 64, 3)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"mode": "extend"}, "mode='extend'"),
        ({"height": 80, "aspect_ratio": "4:5"}, "height=80"),
        ({"num_frames": 24 * 6}, "num_frames=144"),
        ({"mode": "v2v", "camera": "pan left"}, "camera='pan left'"),
        ({"mode": "v2v"}, "exactly one input video"),
    ],
)
def test_unrenderable_specs_are_refused_by_name(
    backend: WanBackend, change: dict[str, Any], message: str
) -> None:
    inputs = [Path("unused.mp4")] if "camera" in change else []
    with pytest.raises(ValueError, match=message):
        backend.render(make_spec(**change), lambda s, t: None, inputs=inputs)


def test_capabilities() -> None:
    caps = capabilities_for("wan")
    assert caps == CAPABILITIES and set(caps.modes) == {"t2v", "i2v", "v2v"}
    assert caps.snap_size(16, 9) == (1280, 704) and caps.frame_step == 4
    assert caps.backend_guidance(12.0) == pytest.approx(5.0)
