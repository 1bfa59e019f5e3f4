"""/speak clip:… on the worker: a member's finished clip speaks a voice. On LTX-2 the clip's own
frames are one video condition of every token (what the transformer sees is asserted, call by
call: the clip in its first input, every token's timestep at the condition's share, the voice
held clean in the audio stream); the tiny family keeps the clip's frames and muxes the voice."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from core.spec import RenderSpec
from worker.backends import load_backend
from worker.backends.lipsync import encode_voice, packed_voice
from worker.backends.ltx2 import CLIP_STRENGTH
from worker.encode import encode_mp4
from worker.speak import keeps_audio, original_frames, render_speech
from worker.speech import Voice

PARENT = "a" * 32


def tone(seconds: float, hz: float, rate: int = 44100) -> np.ndarray:
    t = np.arange(round(seconds * rate)) / rate
    return (0.4 * np.sin(2 * np.pi * hz * t)).astype(np.float32)


def write_clip(path: Path, seed: int, frames: int = 30) -> Path:
    """A 128×96 clip at 24 fps: a bright square that moves over noise."""
    rng = np.random.default_rng(seed)
    video = rng.integers(0, 120, (frames, 96, 128, 3), np.uint8)
    for i in range(frames):
        video[i, 30:60, 2 * i : 2 * i + 30] = 240
    encode_mp4(video, 24.0, path, fps=24, num_frames=frames)
    return path


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("speakclip")
    return write_clip(folder / "a.mp4", 1), write_clip(folder / "b.mp4", 2)


def clip_spec(backend: str, **changes: object) -> RenderSpec:
    fields: dict[str, Any] = {
        "prompt": "a person speaking",
        "aspect_ratio": "4:3",
        "width": 128,
        "height": 96,
        "num_frames": 24,
        "fps": 24,
        "steps": 2,
        "seed": 3,
        "backend": backend,
        "mode": "speak_clip",
        "parent_id": PARENT,
        "input_media": (f"aa/{PARENT}.mp4", "bb/x.voice.wav"),
    }
    return RenderSpec(**(fields | changes))


def test_ltx2_conditions_on_the_clip_and_holds_the_voice_at_every_step(
    clips: tuple[Path, Path],
) -> None:
    backend: Any = load_backend("ltx2", model="builtin:tiny", device="cpu")
    seen: list[dict[str, torch.Tensor]] = []

    def record(module: Any, args: Any, kwargs: dict[str, Any]) -> None:
        keep = ("hidden_states", "timestep", "sigma", "audio_hidden_states", "audio_timestep")
        seen.append({k: kwargs[k].clone() for k in keep})

    handle = backend.pipe.transformer.register_forward_pre_hook(record, with_kwargs=True)
    spec = clip_spec("ltx2")
    voice = Voice(tone(0.8, 200)[None, :], 44100)
    a, b = clips
    try:
        clip = render_speech(backend, spec, lambda s, t: None, (a, a), voice)
        calls = len(seen)
        other = render_speech(backend, spec, lambda s, t: None, (b, b), voice)
    finally:
        handle.remove()
    from worker.speech import resampled

    pipe = backend.clip_pipe
    samples = resampled(voice, int(pipe.audio_vae.config.sample_rate))
    expected = packed_voice(pipe, encode_voice(pipe, samples, 25, 24))
    assert calls >= spec.steps
    for call in seen[:calls]:
        # the voice, clean, in the audio stream of every pass
        for row in call["audio_hidden_states"]:
            torch.testing.assert_close(row, expected[0].to(row.dtype))
        assert torch.all(call["audio_timestep"] == 0)
        # every video token is the clip's, conditioned at CLIP_STRENGTH: t × (1 − strength)
        wanted = call["sigma"][:, None] * (1 - CLIP_STRENGTH)
        torch.testing.assert_close(call["timestep"], wanted.expand_as(call["timestep"]))
    # the clip is in what the transformer denoises: same seed, same voice, another clip, other
    # input at the first step, and other frames
    first_a, first_b = seen[0]["hidden_states"], seen[calls]["hidden_states"]
    assert first_a.shape == first_b.shape and not torch.allclose(first_a, first_b)
    assert not np.array_equal(clip.frames, other.frames)
    # the track is the voice (0.8 s), padded with silence to the clip's 1 s
    assert clip.sample_rate == 44100 and clip.audio is not None
    assert clip.audio.shape == (1, 44100)
    np.testing.assert_allclose(clip.audio[0, 2000:30000], voice.audio[0, 2000:30000], atol=1e-6)
    assert clip.frames.shape[0] == 25 and clip.frames.shape[1:] == (96, 128, 3)


def test_tiny_keeps_the_clips_frames_cut_to_the_voice_and_muxes_it(
    clips: tuple[Path, Path],
) -> None:
    backend: Any = load_backend("tiny", device="cpu")
    spec = clip_spec("tiny", num_frames=18, fps=24, steps=4)  # the voice's 0.75 s of the 30
    voice = Voice(tone(0.75, 300)[None, :], 44100)
    steps: list[tuple[int, int]] = []
    clip = render_speech(backend, spec, lambda s, t: steps.append((s, t)), clips, voice)
    original = original_frames(spec, clips[0])
    assert np.array_equal(clip.frames, original) and len(clip.frames) == 18
    assert clip.fps == 24.0 and steps[-1] == (4, 4)
    assert clip.audio is not None and clip.audio.shape == (1, round(0.75 * 44100))
    assert keeps_audio(spec)


@pytest.mark.parametrize(
    ("changes", "why"),
    [
        ({"parent_id": None}, "parent's video"),
        ({"input_media": ("aa/x.png", "bb/x.voice.wav")}, "parent's video"),
        ({"input_media": (f"aa/{PARENT}.mp4",)}, "either a voice"),
        ({"speak_text": "hello"}, "either a voice"),
    ],
)
def test_a_speak_clip_spec_names_its_parents_video_and_one_voice(
    changes: dict[str, object], why: str
) -> None:
    with pytest.raises(ValueError, match=why):
        clip_spec("tiny", **changes)
