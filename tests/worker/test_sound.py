"""The sound stage: Stable Audio 3 (tiny, built in code) makes a track for a clip, fitted to its
length and muxed as AAC; Add sound copies a clip's video stream beside a new track.

What a member would check with a player: the MP4 has one AAC stream as long as the picture
(within a frame), it is not silence, and with Add sound the picture is the parent's, exactly.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import av
import numpy as np
import pytest

from core.capabilities import FAMILIES
from core.flags import parse_request
from core.spec import RenderSpec
from worker.backends import RenderedClip
from worker.encode import encode_mp4, probe_mp4
from worker.remux import add_sound_track
from worker.sound import (
    DEFAULT_SOUND_MODEL,
    TINY,
    SoundModel,
    SoundUnavailable,
    fitted,
    needs_sound,
    sound_source,
    sound_words,
    with_sound,
)
from worker.sound_tiny import SAMPLE_RATE

TINY_CAPS = FAMILIES["tiny"]


@pytest.fixture(scope="module")
def model() -> SoundModel:
    return SoundModel(TINY, "cpu")


def spec_of(text: str) -> RenderSpec:
    return parse_request(text, capabilities=TINY_CAPS)


def audio_of(path: Path) -> tuple[list, np.ndarray]:
    """The file's audio streams and the first decoded as (channels, samples)."""
    with av.open(str(path)) as container:
        streams = list(container.streams.audio)
        chunks = [f.to_ndarray() for f in container.decode(audio=0)] if streams else []
    return streams, np.concatenate(chunks, axis=1) if chunks else np.zeros((0, 0))


def video_of(path: Path) -> np.ndarray:
    with av.open(str(path)) as container:
        return np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])


def stream_seconds(path: Path) -> float:
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        return float(stream.duration * stream.time_base)


def test_the_tiny_model_makes_a_track_as_long_as_asked_from_the_words(model: SoundModel) -> None:
    track, load_s = model.make("rain on a tin roof", 2.125, seed=7)
    assert load_s > 0  # the first sound loads the model
    again, second_load = model.make("rain on a tin roof", 2.125, seed=7)

    assert second_load == 0.0  # kept: loaded once per worker
    assert track.sample_rate == SAMPLE_RATE
    assert track.audio.shape == (2, round(2.125 * SAMPLE_RATE)) and track.audio.dtype == np.float32
    assert np.sqrt(np.mean(track.audio**2)) > 1e-3  # a sound, not silence
    assert np.abs(track.audio).max() <= 1.0
    assert np.array_equal(track.audio, again.audio)  # the same words and seed: the same sound
    other, _ = model.make("a dog barking", 2.125, seed=7)
    reseeded, _ = model.make("rain on a tin roof", 2.125, seed=8)
    assert not np.array_equal(track.audio, other.audio)
    assert not np.array_equal(track.audio, reseeded.audio)


def test_a_track_is_cut_or_padded_to_the_clip_and_faded_at_both_ends() -> None:
    rate = 1000
    loud = np.ones((2, 3000), np.float32)

    cut = fitted(loud, rate, 2.0)
    padded = fitted(loud[:, :1500], rate, 2.0)

    assert cut.shape == padded.shape == (2, 2000)
    assert cut[:, 0].max() == 0.0 and cut[:, -1].max() == 0.0  # no click in or out
    assert np.all(cut[:, 100:1700] == 1.0)  # the middle untouched
    assert np.all(padded[:, 1500:] == 0.0)  # silence after a short track, never looped
    assert padded[:, 1499].max() == 0.0 and padded[:, 1000].max() == 1.0  # faded where it ends


def test_sound_made_for_a_clip_is_one_aac_stream_of_its_length(
    tmp_path: Path, model: SoundModel
) -> None:
    spec = spec_of('a lighthouse at night -sound "waves on rocks, wind" -len 2 -seed 3')
    frames = np.random.default_rng(0).integers(0, 256, (17, 64, 96, 3), dtype=np.uint8)
    clip, _ = with_sound(RenderedClip(frames=frames, fps=8.0), spec, model)

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

    streams, samples = audio_of(out)
    [stream] = streams
    one_frame = 1 / spec.fps
    assert (stream.codec_context.name, stream.sample_rate, stream.channels) == ("aac", 44100, 2)
    assert abs(stream_seconds(out) - spec.duration_s) <= one_frame
    assert abs(samples.shape[1] / 44100 - spec.duration_s) <= one_frame
    assert np.sqrt(np.mean(samples**2)) > 1e-3
    assert probe_mp4(out).num_frames == spec.num_frames


def test_add_sound_keeps_the_parents_picture_exactly_and_replaces_its_sound(
    tmp_path: Path,
) -> None:
    frames = np.random.default_rng(1).integers(0, 256, (17, 64, 96, 3), dtype=np.uint8)
    parent = tmp_path / "parent.mp4"
    beep = np.full((1, 16000), 0.5, np.float32)
    encode_mp4(frames, 8.0, parent, fps=24, num_frames=48, audio=beep, sample_rate=16000)
    rain = np.random.default_rng(2).uniform(-0.3, 0.3, (2, 3 * 44100)).astype(np.float32)

    child = add_sound_track(
        parent, tmp_path / "child.mp4", rain, 44100, metadata={"title": "the child"}
    )

    assert np.array_equal(video_of(child.path), video_of(parent))  # not re-encoded
    assert (child.num_frames, child.width, child.height, child.fps) == (48, 96, 64, 24.0)
    streams, samples = audio_of(child.path)
    [stream] = streams  # the parent's own sound left behind
    assert (stream.codec_context.name, stream.sample_rate, stream.channels) == ("aac", 44100, 2)
    assert abs(stream_seconds(child.path) - 2.0) <= 1 / 24  # cut to the picture's 2 s
    assert np.sqrt(np.mean(samples**2)) > 0.05
    with av.open(str(child.path)) as container:
        assert container.metadata.get("title") == "the child"
    data = child.path.read_bytes()
    assert data.index(b"moov") < data.index(b"mdat")  # plays while it downloads


@pytest.mark.parametrize(
    ("text", "family", "needed"),
    [
        ("a cat", "tiny", False),
        ("a cat -sound", "tiny", True),
        ("a cat -sound", "ltx2", False),  # LTX-2 keeps its own joint audio
    ],
)
def test_which_clips_the_stage_makes_sound_for(text: str, family: str, needed: bool) -> None:
    spec = parse_request(text, capabilities=FAMILIES[family])
    assert needs_sound(spec, FAMILIES[family]) is needed
    added = spec.model_copy(update={"mode": "sound", "sound": True})
    assert needs_sound(added, FAMILIES[family])  # Add sound, on any family


def test_the_sound_is_made_from_the_sound_words_else_the_prompt() -> None:
    assert sound_words(spec_of("a cat -sound purring -style anime")) == "purring"
    assert sound_words(spec_of("a cat on a piano -sound -style anime")) == "a cat on a piano"


def config(**values: object) -> SimpleNamespace:
    return SimpleNamespace(
        **{"backend": "tiny", "sound_model": None, "models_dir": None, "device": "cpu", **values}
    )


def test_where_the_sound_model_comes_from(tmp_path: Path) -> None:
    assert sound_source(config()) == TINY  # the tiny family builds its own
    assert sound_source(config(backend="wan")) == DEFAULT_SOUND_MODEL
    pulled = tmp_path / "stabilityai" / "stable-audio-3-medium"
    pulled.mkdir(parents=True)
    assert sound_source(config(backend="wan", models_dir=tmp_path)) == str(pulled)
    assert sound_source(config(sound_model="off")) is None
    assert sound_source(config(sound_model=str(tmp_path))) == str(tmp_path)


def test_without_a_sound_model_a_clip_fails_saying_why(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    off = SoundModel(None, "cpu")
    with pytest.raises(SoundUnavailable, match="sound turned off"):
        off.make("rain", 1.0, seed=1)
    assert "REELBOT_SOUND_MODEL is off" in caplog.text  # the operator is told the setting

    missing = SoundModel(str(tmp_path / "nowhere"), "cpu", setting="/models/sa3")
    for _ in range(2):  # the failure is kept: the next clip is told at once, without a reload
        caplog.clear()
        with pytest.raises(SoundUnavailable) as failed:
            missing.make("rain", 1.0, seed=1)
        assert "isn't set up" in str(failed.value) and "/models" not in str(failed.value)
        assert "REELBOT_SOUND_MODEL=/models/sa3" in caplog.text and "convert" in caplog.text


def test_a_folder_in_diffusers_layout_loads_as_a_converted_checkpoint_would(
    tmp_path: Path, model: SoundModel
) -> None:
    """The path a real SA3 folder takes (`from_pretrained`), offline, with the tiny model saved."""
    from worker.sound_tiny import build_tiny_sound

    build_tiny_sound().save_pretrained(tmp_path / "sa3")
    from_folder = SoundModel(sound_source(config(sound_model=str(tmp_path / "sa3"))), "cpu")

    track, load_s = from_folder.make("rain on a tin roof", 1.5, seed=3)
    built, _ = model.make("rain on a tin roof", 1.5, seed=3)
    assert load_s > 0 and track.sample_rate == built.sample_rate == 44100
    assert np.allclose(track.audio, built.audio, atol=1e-5)
