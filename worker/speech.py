"""/speak's voice: the member's stored voice read back, or a typed line voiced by an open TTS.

The front end stored an uploaded voice as mono 16-bit PCM WAV (`intake.media.voices`), the only
audio the worker opens for /speak. A typed line (`RenderSpec.speak_text`) is voiced here by Dia
(nari-labs, Apache-2.0 code and weights; `transformers.DiaForConditionalGeneration`, README
"/speak" says why): `REELBOT_TTS_MODEL` names a folder (or hub id) in transformers layout, found
under `REELBOT_MODELS_DIR` as the families' repositories are; `builtin:tiny` builds a tiny random
Dia in code (`worker.speech_tiny`), the tiny family's default; `off` for none. It loads on the
first typed line, once per worker. A worker whose TTS is off or can't load fails typed-line
clips at once with the reason and goes on serving the rest (uploaded voices need no TTS).
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from worker.settings import WorkerConfig

log = logging.getLogger(__name__)

TINY = "builtin:tiny"
DEFAULT_TTS_MODEL = "nari-labs/Dia-1.6B-0626"
OFF = frozenset({"", "off", "none"})
OFF_TEXT = "this server can't voice typed lines (text to speech is off); attach a voice file"
BROKEN_TEXT = (
    "this server's text-to-speech model isn't set up (its operator's log says why); "
    "attach a voice file instead"
)


class SpeechUnavailable(ValueError):
    """This worker can't voice a typed line. A ValueError: the clip fails at once (a retry
    here would fail alike) with words for the member; the setting goes to the operator's log."""


@dataclass(frozen=True)
class Voice:
    """Float32 samples in [-1, 1], shape (1, samples), and their rate."""

    audio: np.ndarray
    sample_rate: int

    @property
    def seconds(self) -> float:
        return self.audio.shape[1] / self.sample_rate


def read_voice(path: Path) -> Voice:
    """The stored voice (mono 16-bit PCM WAV, as the front end wrote it)."""
    with wave.open(str(path), "rb") as w:
        if w.getnchannels() != 1 or w.getsampwidth() != 2:
            raise ValueError(f"{path.name}: a stored voice is mono 16-bit PCM")
        rate = w.getframerate()
        data = w.readframes(w.getnframes())
    samples = np.frombuffer(data, "<i2").astype(np.float32) / 32768.0
    return Voice(samples[None, :], rate)


def tts_source(config: WorkerConfig) -> str | None:
    """Where this worker's TTS comes from; None when the operator turned it off. Unset: the
    tiny Dia beside tiny video weights, else Dia-1.6B (under REELBOT_MODELS_DIR if pulled)."""
    from worker.model_sources import locate

    value = config.tts_model
    if value is None:  # tiny weights beside tiny weights (the tiny family, builtin:tiny LTX-2)
        tiny = config.backend == "tiny" or config.model == TINY
        value = TINY if tiny else DEFAULT_TTS_MODEL
    if value.strip().lower() in OFF:
        return None
    return locate(value.strip(), config.models_dir)


class SpeechModel:
    """The text-to-speech model, loaded on first use and kept; one line at a time."""

    def __init__(
        self,
        source: str | None,
        device: str,
        *,
        setting: str = "",
        models_dir: Path | None = None,
    ) -> None:
        self.source = source
        self.device = device
        self.setting = setting or str(source)
        self.models_dir = models_dir  # where `reelbot models pull speech` put Dia's codec
        self._model: Any = None
        self._processor: Any = None
        self._failed: str | None = None
        self._lock = threading.Lock()

    @classmethod
    def from_config(cls, config: WorkerConfig, backend: Any = None) -> SpeechModel:
        device = str(getattr(backend, "device", "") or config.device)
        return cls(
            tts_source(config),
            device,
            setting=config.tts_model or "",
            models_dir=config.models_dir,
        )

    def say(self, text: str, seconds: float, seed: int) -> tuple[Voice, float]:
        """`text` voiced (at most `seconds` of it), and the seconds spent loading first.
        Blocking: call it in a thread."""
        import torch

        with self._lock:
            load_s = self._load()
            torch.manual_seed(seed)  # Dia samples its tokens: the same seed, the same voice
            inputs = self._processor(text=[f"[S1] {text}"], padding=True, return_tensors="pt")
            inputs = inputs.to(self._model.device)
            tokens = self._tokens_for(seconds)
            with torch.inference_mode():
                out = self._model.generate(
                    **inputs, max_new_tokens=tokens, do_sample=True, temperature=1.2, top_p=0.95
                )
            audio = self._processor.batch_decode(out)[0]
            rate = int(self._processor.feature_extractor.sampling_rate)
        samples = np.asarray(audio.float().cpu().reshape(-1), np.float32)
        samples = np.clip(samples[: round(seconds * rate)], -1.0, 1.0)
        if not samples.size:
            samples = np.zeros(1, np.float32)
        return Voice(samples[None, :], rate), load_s

    def _tokens_for(self, seconds: float) -> int:
        """Audio tokens for `seconds`: one a codec hop (Dia's DAC: 512 samples at 44.1 kHz),
        plus the delay pattern's last codebook offset, which comes out at the end."""
        codec = self._processor.audio_tokenizer.config
        rate = int(self._processor.feature_extractor.sampling_rate)
        delay = max(self._model.config.delay_pattern or [0])
        return math.ceil(seconds * rate / int(codec.hop_length)) + int(delay)

    def _load(self) -> float:
        if self._model is not None:
            return 0.0
        if self.source is None:
            log.warning("a /speak clip asked for a typed line, and REELBOT_TTS_MODEL is off")
            raise SpeechUnavailable(OFF_TEXT)
        if self._failed is not None:
            log.error("%s", self._failed)
            raise SpeechUnavailable(BROKEN_TEXT)
        started = time.perf_counter()
        try:
            self._model, self._processor = _load_model(self.source, self.device, self.models_dir)
        except Exception as exc:  # a missing folder, a torn file, memory: the same next time
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            self._failed = (
                f"this worker's text-to-speech model can't be loaded (REELBOT_TTS_MODEL="
                f"{self.setting or self.source}: {first}); `reelbot models pull speech` puts "
                "nari-labs/Dia-1.6B-0626 and its codec in REELBOT_MODELS_DIR, or set it to off"
            )
            log.error("%s", self._failed)
            raise SpeechUnavailable(BROKEN_TEXT) from exc
        load_s = time.perf_counter() - started
        log.info("tts model %s loaded on %s in %.1f s", self.source, self.device, load_s)
        return load_s


def _load_model(source: str, device: str, models_dir: Path | None = None) -> tuple[Any, Any]:
    from worker.backends.common import resolve_device

    resolved, dtype = resolve_device(device)
    if source == TINY:
        from worker.speech_tiny import build_tiny_speech

        model, processor = build_tiny_speech()
        return model.to(resolved), processor
    from transformers import DiaForConditionalGeneration, DiaProcessor

    codec = _pulled_codec(source, models_dir)
    if codec is None:
        processor = DiaProcessor.from_pretrained(source)  # its DAC codec too (audio_tokenizer)
    else:  # the hub id its processor config names, pulled beside it: offline
        from transformers import DacFeatureExtractor, DacModel, DiaTokenizer

        processor = DiaProcessor(
            feature_extractor=DacFeatureExtractor.from_pretrained(source),
            tokenizer=DiaTokenizer.from_pretrained(source),
            audio_tokenizer=DacModel.from_pretrained(codec),
        )
    loaded: Any = DiaForConditionalGeneration.from_pretrained(source, dtype=dtype)
    return loaded.to(resolved).eval(), processor


def _pulled_codec(source: str, models_dir: Path | None) -> str | None:
    """The folder of the DAC codec Dia's processor config names by its hub id
    (descript/dac_44khz), when `reelbot models pull speech` put it under `models_dir`; None
    otherwise (transformers then loads it by that id, from the hub or its cache)."""
    from worker.model_sources import locate

    config = Path(source) / "processor_config.json"
    if models_dir is None or not config.is_file():
        return None
    try:
        named = json.loads(config.read_text()).get("audio_tokenizer", {})
    except (OSError, ValueError):
        return None
    name = named.get("audio_tokenizer_name_or_path") if isinstance(named, dict) else None
    if not isinstance(name, str) or not name:
        return None
    found = locate(name, models_dir)
    return found if found != name else None


def resampled(voice: Voice, rate: int) -> np.ndarray:
    """`voice` at `rate` Hz (linear interpolation: what the audio VAE's mel frames need)."""
    if voice.sample_rate == rate:
        return voice.audio[0]
    n = max(1, round(voice.audio.shape[1] * rate / voice.sample_rate))
    source_t = np.arange(voice.audio.shape[1]) / voice.sample_rate
    return np.interp(np.arange(n) / rate, source_t, voice.audio[0]).astype(np.float32)
