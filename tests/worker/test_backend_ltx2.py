"""The LTX-2 backend on `builtin:tiny`: both modes and the sound, through the real diffusers
classes, and on into an MP4 whose AAC track lasts as long as its picture."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
from PIL import Image

from core.capabilities import capabilities_for
from core.speak import SPEAKING
from core.spec import RenderJob, RenderSpec
from worker.backends import RenderedClip, load_backend
from worker.backends import ltx as ltx_module
from worker.backends.common import check_spec
from worker.backends.ltx2 import CAPABILITIES, DEFAULT_MODEL, LTX2Backend, gemma_tokenizer
from worker.backends.tiny import CAPABILITIES as TINY_CAPABILITIES
from worker.camera import render_size
from worker.encode import AAC_FRAME, encode_mp4
from worker.render import job_render

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def backend() -> LTX2Backend:
    built = load_backend("ltx2", model="builtin:tiny", device="cpu")
    assert isinstance(built, LTX2Backend)
    return built


@pytest.fixture(scope="module")
def rendered(backend: LTX2Backend) -> Callable[[RenderSpec], RenderedClip]:
    """Text-to-video clips by spec, each rendered once per module (the renders are the cost)."""
    clips: dict[str, RenderedClip] = {}

    def render(spec: RenderSpec) -> RenderedClip:
        key = spec.model_dump_json()
        if key not in clips:
            clips[key] = backend.render(spec, lambda s, t: None)
        return clips[key]

    return render


@pytest.fixture(scope="module")
def picture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("media") / "a.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (120, 160, 3), np.uint8)).save(path)
    return path


def make_spec(**changes: object) -> RenderSpec:
    fields: dict[str, object] = {
        "prompt": "a drummer plays a fast solo on a stage",
        "aspect_ratio": "4:3",
        "width": 128,
        "height": 96,
        "num_frames": 8,  # a third of a second at 24 fps: 9 native frames
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


# "speak" and "speak_clip" render with a voice: tests/worker/test_speak.py, test_speak_clip.py
@pytest.mark.parametrize("mode", [m for m in CAPABILITIES.modes if m not in SPEAKING])
def test_each_mode_renders_deterministically(
    backend: LTX2Backend, picture: Path, mode: str
) -> None:
    spec, inputs = make_spec(mode=mode), [picture] if mode == "i2v" else []
    steps: list[tuple[int, int]] = []

    clip = backend.render(spec, lambda s, t: steps.append((s, t)), inputs=inputs)

    assert clip.frames.shape == (9, spec.height, spec.width, 3)
    assert clip.frames.dtype == np.uint8 and clip.fps == 24
    assert clip.audio is None and clip.sample_rate is None  # no -sound, no track
    assert steps and steps[-1][0] == steps[-1][1] == spec.steps
    again = backend.render(spec, lambda s, t: None, inputs=inputs).frames
    other = backend.render(make_spec(mode=mode, seed=8), lambda s, t: None, inputs=inputs).frames
    assert np.array_equal(clip.frames, again)
    assert not np.array_equal(clip.frames, other)


def test_image_to_video_is_conditioned_on_the_picture(
    backend: LTX2Backend, picture: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spy = Spy(backend.image_pipe)
    monkeypatch.setattr(backend, "image_pipe", spy)
    backend.render(make_spec(mode="i2v"), lambda s, t: None, inputs=[picture])
    [call] = spy.calls
    assert call["image"].size == (128, 96)  # fitted to the clip, as the model takes it


def test_sound_comes_with_the_frames_as_long_as_the_clip(
    backend: LTX2Backend, rendered: Callable[[RenderSpec], RenderedClip]
) -> None:
    spec = make_spec(sound=True)

    clip = rendered(spec)

    assert clip.audio is not None and clip.sample_rate == 16000
    assert clip.audio.dtype == np.float32 and clip.audio.shape[0] == 2  # stereo
    assert np.all(np.abs(clip.audio) <= 1.0) and np.abs(clip.audio).max() > 0
    # The pipeline sizes the audio latents by the clip's length (9 frames at 24 fps); the
    # causal audio VAE gives back a few mel hops less, which the encoder pads.
    assert abs(clip.audio.shape[1] / clip.sample_rate - 9 / 24) < 0.05
    again = backend.render(spec, lambda s, t: None)
    assert again.audio is not None and np.array_equal(clip.audio, again.audio)
    silent = rendered(make_spec())
    assert silent.audio is None and np.array_equal(silent.frames, clip.frames)


def audio_streams(path: Path) -> list[dict[str, Any]]:
    """Each audio stream's codec, rate, channels, declared and decoded length in seconds."""
    found = []
    with av.open(str(path)) as container:
        for stream in container.streams.audio:
            decoded = sum(frame.samples for frame in container.decode(stream))
            found.append(
                {
                    "codec": stream.codec_context.name,
                    "rate": stream.sample_rate,
                    "channels": stream.codec_context.channels,
                    "seconds": float(stream.duration * stream.time_base),
                    "decoded": decoded / stream.sample_rate,
                }
            )
    return found


def test_a_clip_with_sound_encodes_to_one_aac_stream_as_long_as_the_video(
    rendered: Callable[[RenderSpec], RenderedClip], tmp_path: Path
) -> None:
    clip = rendered(make_spec(sound=True))
    out = tmp_path / "clip.mp4"

    encode_mp4(  # at 12 fps, as `-fps 12` asks: the encoder resamples the 24 fps frames
        clip.frames,
        clip.fps,
        out,
        fps=12,
        num_frames=4,
        audio=clip.audio,
        sample_rate=clip.sample_rate,
    )

    video_seconds = 4 / 12
    [track] = audio_streams(out)
    assert (track["codec"], track["rate"], track["channels"]) == ("aac", 16000, 2)
    one_frame = AAC_FRAME / 16000
    assert abs(track["seconds"] - video_seconds) <= one_frame
    assert abs(track["decoded"] - video_seconds) <= one_frame
    with av.open(str(out)) as container:
        assert sum(1 for _ in container.decode(video=0)) == 4


def test_a_clip_without_sound_has_no_audio_stream(
    rendered: Callable[[RenderSpec], RenderedClip], tmp_path: Path
) -> None:
    spec = make_spec()
    clip = rendered(spec)
    out = tmp_path / "clip.mp4"

    encode_mp4(
        clip.frames,
        clip.fps,
        out,
        fps=spec.fps,
        num_frames=spec.num_frames,
        audio=clip.audio,
        sample_rate=clip.sample_rate,
    )

    assert audio_streams(out) == []


def test_motion_sets_the_speed_and_a_camera_move_renders_larger_and_crops_back(
    backend: LTX2Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    spy = Spy(backend.pipe)
    monkeypatch.setattr(backend, "pipe", spy)
    spec = make_spec(camera="pan left", motion=4)

    clip = backend.render(spec, lambda s, t: None)

    [call] = spy.calls
    assert (call["width"], call["height"]) == render_size(128, 96, 32, "pan left")
    assert call["motion_speed"] == 1.25 and call["frame_rate"] == 24
    assert clip.frames.shape == (9, 96, 128, 3)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"mode": "v2v"}, "mode='v2v'"),
        ({"width": 112, "aspect_ratio": "1:1"}, "width=112"),
        ({"num_frames": 24 * 11}, "num_frames=264"),
        ({"mode": "i2v"}, "exactly one input image"),
    ],
)
def test_unrenderable_specs_are_refused_by_name(
    backend: LTX2Backend, change: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        backend.render(make_spec(**change), lambda s, t: None)


def test_backends_without_sound_refuse_it() -> None:
    """The bot never sends `-sound` to them; a spec from anywhere else is refused by name."""
    with pytest.raises(ValueError, match="sound=True"):
        check_spec(ltx_module.CAPABILITIES, make_spec(sound=True), [])

    class Silent:
        capabilities = TINY_CAPABILITIES.model_copy(update={"adds_sound": False})

        def render(self, *args: Any, **kwargs: Any) -> RenderedClip:
            raise AssertionError("a clip it can't make must not be rendered")

    job = RenderJob(generation_id="a" * 32, spec=make_spec(sound=True))
    with pytest.raises(ValueError, match="tiny backend makes no sound"):
        job_render(Silent(), job, lambda s, t: None)

    class Added:  # the worker adds the sound (worker.sound): the backend renders silent frames
        capabilities = TINY_CAPABILITIES

        def __init__(self) -> None:
            self.asked: list[RenderSpec] = []

        def render(self, spec: RenderSpec, *args: Any, **kwargs: Any) -> RenderedClip:
            self.asked.append(spec)
            return RenderedClip(frames=np.zeros((1, 32, 32, 3), np.uint8), fps=8.0)

    added = Added()
    job_render(added, job, lambda s, t: None)
    assert [spec.sound for spec in added.asked] == [False]


def test_capabilities_and_tokenizer() -> None:
    caps = capabilities_for("ltx2")
    assert caps == CAPABILITIES and caps.sound and not caps.native_camera
    assert caps.snap_size(3, 2) == (768, 512) and caps.frame_step == 8 and caps.vram_gb > 0
    assert DEFAULT_MODEL == "Lightricks/LTX-2"
    tokenizer = gemma_tokenizer()
    ids = tokenizer("A fox — ünïcode 🦊", padding="max_length", max_length=32).input_ids
    assert len(ids) == 32 and max(ids) < len(tokenizer) and tokenizer.unk_token_id not in ids


def test_ltx2_is_the_backend_with_sound() -> None:
    """Importing it without torch is checked with every family in test_backend_registry."""
    assert capabilities_for("ltx2").sound and not TINY_CAPABILITIES.sound
