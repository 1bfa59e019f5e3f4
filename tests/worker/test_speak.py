"""/speak on the worker: the voice (stored, or a typed line voiced by the tiny Dia) is the clip's
track, as long as the clip; on LTX-2 the video is denoised beside the voice's audio latents,
held clean at every step (what the transformer sees is asserted, call by call)."""

from __future__ import annotations

import wave
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image

from core.spec import RenderSpec
from worker.backends import load_backend
from worker.backends.lipsync import encode_voice, packed_voice
from worker.encode import encode_mp4
from worker.speak import keeps_audio, render_speech, speech_for
from worker.speech import (
    BROKEN_TEXT,
    OFF_TEXT,
    SpeechModel,
    SpeechUnavailable,
    Voice,
    read_voice,
)


def tone(seconds: float, hz: float, rate: int = 44100) -> np.ndarray:
    t = np.arange(round(seconds * rate)) / rate
    return (0.4 * np.sin(2 * np.pi * hz * t)).astype(np.float32)


def write_wav(path: Path, samples: np.ndarray, rate: int = 44100) -> Path:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes((samples * 32767).astype("<i2").tobytes())
    return path


@pytest.fixture(scope="module")
def picture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("speak") / "a.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (96, 128, 3), np.uint8)).save(path)
    return path


def speak_spec(backend: str, **changes: object) -> RenderSpec:
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
        "mode": "speak",
        "input_media": ("ab/x.png", "ab/x.voice.wav"),
    }
    return RenderSpec(**(fields | changes))


def test_ltx2_denoises_beside_the_voice_held_clean_at_every_step(picture: Path) -> None:
    backend: Any = load_backend("ltx2", model="builtin:tiny", device="cpu")
    seen: list[tuple[torch.Tensor, torch.Tensor]] = []

    def record(module: Any, args: Any, kwargs: dict[str, Any]) -> None:
        seen.append((kwargs["audio_hidden_states"].clone(), kwargs["audio_timestep"].clone()))

    handle = backend.pipe.transformer.register_forward_pre_hook(record, with_kwargs=True)
    spec = speak_spec("ltx2")
    voice = Voice(tone(1.0, 200)[None, :], 44100)
    try:
        clip = render_speech(backend, spec, lambda s, t: None, (picture, picture), voice)
        other = render_speech(
            backend, spec, lambda s, t: None, (picture, picture), Voice(tone(1.0, 900)[None], 44100)
        )
    finally:
        handle.remove()
    # what the transformer saw: the encoded voice itself, clean, on every call of the first clip
    from worker.speech import resampled

    samples = resampled(voice, int(backend.pipe.audio_vae.config.sample_rate))
    expected = packed_voice(backend.image_pipe, encode_voice(backend.image_pipe, samples, 25, 24))
    calls = len(seen) // 2
    assert calls >= spec.steps  # every guidance pass of every step
    for states, timestep in seen[:calls]:
        assert states.shape[1:] == expected.shape[1:]
        for row in states:
            torch.testing.assert_close(row, expected[0].to(row.dtype))
        assert torch.all(timestep == 0)
    # the voice conditions the picture: another voice, other frames (same seed, same picture)
    assert not np.array_equal(clip.frames, other.frames)
    # the track is the voice, cut to the clip (1 s), not the model's decoded audio
    assert clip.sample_rate == 44100 and clip.audio is not None
    assert clip.audio.shape == (1, 44100)
    np.testing.assert_allclose(clip.audio[0, 2000:30000], voice.audio[0, 2000:30000], atol=1e-6)


def test_tiny_renders_the_picture_and_muxes_the_voice_as_its_track(
    picture: Path, tmp_path: Path
) -> None:
    import av

    backend: Any = load_backend("tiny", device="cpu")
    spec = speak_spec("tiny", num_frames=36)  # 1.5 s
    stored = write_wav(tmp_path / "v.wav", tone(1.2, 220))
    voice, timings = speech_for(spec, (picture, stored), SpeechModel(None, "cpu"))
    assert timings == {} and abs(voice.seconds - 1.2) < 1e-3  # no TTS for a stored voice
    clip = render_speech(backend, spec, lambda s, t: None, (picture, stored), voice)
    assert keeps_audio(spec)
    out = tmp_path / "clip.mp4"
    encode_mp4(
        clip.frames, clip.fps, out, fps=24, num_frames=36, audio=clip.audio, sample_rate=44100
    )
    with av.open(str(out)) as container:
        [stream] = container.streams.audio
        seconds = float(stream.duration * stream.time_base)
        assert stream.codec_context.name == "aac"
    assert abs(seconds - 1.5) <= 1 / 24  # the clip's length: the voice padded with silence
    assert float(np.abs(clip.audio[0, round(1.25 * 44100) :]).max()) == 0.0


def test_a_typed_line_is_voiced_by_the_tiny_tts_the_same_for_the_same_seed(
    picture: Path,
) -> None:
    tts = SpeechModel("builtin:tiny", "cpu")
    spec = speak_spec("tiny", input_media=("ab/x.png",), speak_text="Hello there, friends!")
    voice, timings = speech_for(spec, (picture,), tts)
    again, _ = speech_for(spec, (picture,), tts)
    assert voice.sample_rate == 44100 and 0 < voice.seconds <= spec.duration_s
    assert np.array_equal(voice.audio, again.audio) and "tts" in timings
    assert float(np.abs(voice.audio).max()) > 0


def test_a_worker_without_tts_fails_typed_lines_with_a_reason_and_reads_voices(
    tmp_path: Path,
) -> None:
    with pytest.raises(SpeechUnavailable, match="text to speech is off") as off:
        SpeechModel(None, "cpu").say("hi", 1.0, 1)
    assert str(off.value) == OFF_TEXT
    broken = SpeechModel(str(tmp_path / "no-such-dia"), "cpu")
    for _ in range(2):  # the same answer again, without trying to load again
        with pytest.raises(SpeechUnavailable) as failed:
            broken.say("hi", 1.0, 1)
        assert str(failed.value) == BROKEN_TEXT
    stored = read_voice(write_wav(tmp_path / "v.wav", tone(0.5, 300)))
    assert stored.audio.shape == (1, 22050) and stored.sample_rate == 44100


def test_the_tts_follows_the_setting_tiny_beside_tiny_weights(tmp_path: Path) -> None:
    from types import SimpleNamespace

    from worker.speech import DEFAULT_TTS_MODEL, TINY, tts_source

    def config(**kw: object) -> Any:
        return SimpleNamespace(**({"tts_model": None, "model": None, "models_dir": None} | kw))

    assert tts_source(config(backend="tiny")) == TINY
    assert tts_source(config(backend="ltx2", model=TINY)) == TINY
    assert tts_source(config(backend="ltx2")) == DEFAULT_TTS_MODEL
    assert tts_source(config(backend="tiny", tts_model="off")) is None
    assert tts_source(config(backend="ltx2", tts_model=str(tmp_path))) == str(tmp_path)


def test_a_dia_folder_in_transformers_layout_loads_as_the_real_one_does(tmp_path: Path) -> None:
    """The tiny Dia saved as nari-labs/Dia-1.6B-0626 is laid out (config, weights, processor
    config naming its DAC codec's repository) loads through the real path, REELBOT_TTS_MODEL=DIR."""
    import json

    from worker.speech_tiny import build_tiny_speech

    model, processor = build_tiny_speech()
    folder, codec = tmp_path / "Dia-1.6B-0626", tmp_path / "dac_44khz"
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    processor.audio_tokenizer.save_pretrained(codec)
    config = folder / "processor_config.json"
    saved = json.loads(config.read_text())
    saved["audio_tokenizer"]["audio_tokenizer_name_or_path"] = str(codec)  # the hub's: a repo id
    config.write_text(json.dumps(saved))

    loaded = SpeechModel(str(folder), "cpu")
    voice, load_s = loaded.say("Hello there", 0.5, 4)
    built, _ = SpeechModel("builtin:tiny", "cpu").say("Hello there", 0.5, 4)
    assert load_s > 0 and voice.sample_rate == 44100
    np.testing.assert_allclose(voice.audio, built.audio, atol=1e-5)  # the same model
