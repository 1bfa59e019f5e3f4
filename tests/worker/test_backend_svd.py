"""The Stable Video Diffusion backend on `builtin:tiny`: image-to-video, `-motion` as SVD's own."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from PIL import Image

from core.capabilities import capabilities_for
from core.spec import RenderSpec
from worker.backends import load_backend
from worker.backends.svd import CAPABILITIES, SVDBackend, native_frames
from worker.camera import render_size


@pytest.fixture(scope="module")
def backend() -> SVDBackend:
    built = load_backend("svd", model="builtin:tiny", device="cpu")
    assert isinstance(built, SVDBackend)
    return built


@pytest.fixture(scope="module")
def picture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("media") / "a.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (90, 120, 3), np.uint8)).save(path)
    return path


def make_spec(**changes: object) -> RenderSpec:
    fields: dict[str, object] = {
        "prompt": "animate this",
        "aspect_ratio": "1:1",
        "width": 64,
        "height": 64,
        "num_frames": 12,  # 0.5 s at 24 fps: 5 frames at 7 fps
        "fps": 24,
        "steps": 2,
        "seed": 7,
        "mode": "i2v",
    }
    return RenderSpec(**(fields | changes))


class Stub:
    """Stands in for the pipeline: records the call's keyword arguments, renders grey frames."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def __call__(self, **kwargs: Any) -> Any:
        self.calls.append(kwargs)
        shape = (kwargs["num_frames"], kwargs["height"], kwargs["width"], 3)
        return SimpleNamespace(frames=[np.full(shape, 0.5, np.float32)])


def test_renders_deterministically_and_reports_steps(backend: SVDBackend, picture: Path) -> None:
    steps: list[tuple[int, int]] = []
    clip = backend.render(make_spec(), lambda s, t: steps.append((s, t)), inputs=[picture])

    assert clip.frames.shape == (5, 64, 64, 3) and clip.frames.dtype == np.uint8
    assert clip.fps == 7 and steps == [(1, 2), (2, 2)]
    same = backend.render(make_spec(), lambda s, t: None, inputs=[picture]).frames
    other = backend.render(make_spec(seed=8), lambda s, t: None, inputs=[picture]).frames
    assert np.array_equal(clip.frames, same)
    assert not np.array_equal(clip.frames, other)


@pytest.mark.parametrize(
    ("motion", "bucket", "noise"),
    [(0, 40, 0.02), (1, 80, 0.02), (2, 127, 0.03), (3, 180, 0.05), (4, 255, 0.08)],
)
def test_motion_reaches_the_pipeline_as_svds_motion_conditioning(
    backend: SVDBackend,
    picture: Path,
    monkeypatch: pytest.MonkeyPatch,
    motion: int,
    bucket: int,
    noise: float,
) -> None:
    stub = Stub()
    monkeypatch.setattr(backend, "pipe", stub)
    backend.render(make_spec(motion=motion), lambda s, t: None, inputs=[picture])
    (call,) = stub.calls
    assert call["motion_bucket_id"] == bucket
    assert call["noise_aug_strength"] == pytest.approx(noise)
    assert call["fps"] == 7 and call["max_guidance_scale"] == pytest.approx(3.0)


def test_a_camera_move_renders_larger_and_crops_back(
    backend: SVDBackend, picture: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stub = Stub()
    monkeypatch.setattr(backend, "pipe", stub)
    clip = backend.render(make_spec(camera="pan right"), lambda s, t: None, inputs=[picture])
    (call,) = stub.calls
    assert (call["width"], call["height"]) == render_size(64, 64, 64, "pan right") == (128, 128)
    assert call["image"].size == (128, 128)  # the picture fills the larger render
    assert clip.frames.shape == (5, 64, 64, 3)


@pytest.mark.parametrize(
    ("change", "inputs", "message"),
    [
        ({"mode": "t2v"}, 0, "mode='t2v'"),
        ({"width": 96, "aspect_ratio": "3:2"}, 1, "width=96"),
        ({"num_frames": 24 * 4}, 1, "num_frames=96"),
        ({}, 0, "exactly one input image"),
    ],
)
def test_unrenderable_specs_are_refused_by_name(
    backend: SVDBackend, picture: Path, change: dict[str, Any], inputs: int, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        backend.render(make_spec(**change), lambda s, t: None, inputs=[picture] * inputs)


@pytest.mark.parametrize(("seconds", "frames"), [(0.1, 2), (1.0, 8), (3.0, 22), (24 / 7, 25)])
def test_frame_count(seconds: float, frames: int) -> None:
    assert native_frames(seconds) == frames


def test_capabilities() -> None:
    caps = capabilities_for("svd")
    assert caps == CAPABILITIES and caps.modes == ("i2v",)
    assert caps.snap_size(16, 9) == (1024, 576) and caps.motion
