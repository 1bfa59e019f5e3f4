"""Sound for clips whose model makes none: text to audio, fitted to the clip, muxed as AAC.

Two ways in, one stage:

- `-sound` on a family without joint audio: the frames are rendered silent, then this stage
  makes a track from the sound words (`RenderSpec.sound_prompt`, else the clip's prompt) for the
  clip's length, num_frames / fps. LTX-2 (`Capabilities.sound`) keeps its own joint audio.
- 🔊 Add sound (mode "sound"): the parent's finished MP4 is the input; its frames are decoded
  only to be scanned and to make the poster and preview, and the clip is the parent's video
  stream as it was, packet for packet, beside a new AAC track (`worker.remux`): no frame is
  rendered or re-encoded, so Add sound costs the sound alone and the picture stays the parent's.

The model is Stable Audio 3 (`diffusers.StableAudio3Pipeline`; README, "Frames, stories and
sound", says why): `REELBOT_SOUND_MODEL` names a folder (or hub id) in diffusers layout, found
under `REELBOT_MODELS_DIR` as the families' repositories are; `builtin:tiny` builds a tiny random
one in code (`worker.sound_tiny`), the tiny family's default. It loads on the first clip that
needs it, once per worker, on the worker's device; that clip's `load` timing includes it.

The track is cut (or padded with silence) to the clip's length, with a short fade in and a fade
out so it neither clicks on nor stops dead; the same seed and words give the same sound.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from core.rendercaps import Capabilities
from core.spec import RenderSpec
from worker.encode import fit_audio

if TYPE_CHECKING:
    from worker.backends import RenderedClip
    from worker.settings import WorkerConfig

log = logging.getLogger(__name__)

TINY = "builtin:tiny"
DEFAULT_SOUND_MODEL = "stabilityai/stable-audio-3-medium"
OFF = frozenset({"", "off", "none"})
FADE_IN_S = 0.02
FADE_OUT_S = 0.25  # at most; a tenth of a short clip
CONVERT_HINT = (
    "Stable Audio 3 is not published in diffusers layout: convert it once with diffusers' "
    "scripts/convert_stable_audio_3_to_diffusers.py into "
    "REELBOT_MODELS_DIR/stabilityai/stable-audio-3-medium (README: Frames, stories and sound), "
    "or set REELBOT_SOUND_MODEL to the folder"
)


class SoundUnavailable(ValueError):
    """This worker can't make sound (no model set, or it failed to load). A ValueError: the
    clip fails at once with the reason (`worker.tasks`), since a retry here would fail alike.
    Its words are the member's; the setting, the path and what failed go to the operator's log."""


OFF_TEXT = "this server has sound turned off"
BROKEN_TEXT = "this server's sound model isn't set up (its operator's log says why)"


@dataclass(frozen=True)
class Soundtrack:
    """Float32 samples in [-1, 1], shape (channels, samples), from the clip's first frame."""

    audio: np.ndarray
    sample_rate: int


def sound_words(spec: RenderSpec) -> str:
    """What the sound is made from: the member's sound words, else the clip's own prompt (not
    the style's suffix: a look, not a sound)."""
    return spec.sound_prompt or spec.prompt


def needs_sound(spec: RenderSpec, capabilities: Capabilities) -> bool:
    """Whether this stage makes the clip's sound: Add sound always, `-sound` unless the family
    makes its own (joint audio)."""
    return spec.mode == "sound" or (spec.sound and not capabilities.sound)


def fitted(audio: np.ndarray, sample_rate: int, seconds: float) -> np.ndarray:
    """`audio` cut or padded to `seconds`, faded in over `FADE_IN_S` and out over the last
    `FADE_OUT_S` (or a tenth of the clip, if shorter) of what the model made."""
    track = fit_audio(np.asarray(audio, np.float32), sample_rate, seconds)
    made = min(track.shape[1], np.asarray(audio).shape[1])
    fade_in = min(made, round(FADE_IN_S * sample_rate))
    fade_out = min(made, round(min(FADE_OUT_S, seconds / 10) * sample_rate))
    if fade_in:
        track[:, :fade_in] *= np.linspace(0.0, 1.0, fade_in, dtype=np.float32)
    if fade_out:
        track[:, made - fade_out : made] *= np.linspace(1.0, 0.0, fade_out, dtype=np.float32)
    return track


def sound_source(config: WorkerConfig) -> str | None:
    """Where this worker's sound model comes from; None when the operator turned it off.
    Unset: the tiny family builds its own (`builtin:tiny`), every other family's is Stable
    Audio 3 Medium (`DEFAULT_SOUND_MODEL`), under REELBOT_MODELS_DIR if it was put there."""
    from worker.model_sources import locate

    value = config.sound_model
    if value is None:
        value = TINY if config.backend == "tiny" else DEFAULT_SOUND_MODEL
    if value.strip().lower() in OFF:
        return None
    return locate(value.strip(), config.models_dir)


class SoundModel:
    """The text-to-audio pipeline, loaded on first use and kept; one sound at a time.

    Made at worker start-up (nothing loaded then) and shared by every job the worker runs."""

    def __init__(self, source: str | None, device: str, *, setting: str = "") -> None:
        self.source = source
        self.device = device
        self.setting = setting or str(source)  # REELBOT_SOUND_MODEL as the operator wrote it
        self._pipe: Any = None
        self._failed: str | None = None
        self._lock = threading.Lock()

    @classmethod
    def from_config(cls, config: WorkerConfig, backend: Any = None) -> SoundModel:
        """This worker's sound model (unloaded), on the backend's device."""
        device = str(getattr(backend, "device", "") or config.device)
        return cls(sound_source(config), device, setting=config.sound_model or "")

    def make(self, text: str, seconds: float, seed: int) -> tuple[Soundtrack, float]:
        """A track of `seconds` from `text`, fitted to it, and the seconds spent loading the
        model first (0 once loaded). Blocking: call it in a thread."""
        with self._lock:
            load_s = self._load()
            import torch

            generator = torch.Generator(self._generator_device()).manual_seed(seed)
            output = self._pipe(prompt=text, duration=seconds, generator=generator)
            audio = output.audios[0].float().cpu().numpy()
            rate = int(self._pipe.vae.config.sampling_rate)
        return Soundtrack(fitted(audio, rate, seconds), rate), load_s

    def _generator_device(self) -> str:
        return "cuda" if self.device.startswith("cuda") else "cpu"

    def _load(self) -> float:
        if self._pipe is not None:
            return 0.0
        if self.source is None:
            log.warning("a clip asked for sound, and REELBOT_SOUND_MODEL is off")
            raise SoundUnavailable(OFF_TEXT)
        if self._failed is not None:
            log.error("%s", self._failed)
            raise SoundUnavailable(BROKEN_TEXT)
        started = time.perf_counter()
        try:
            self._pipe = _load_pipeline(self.source, self.device)
        except Exception as exc:  # a missing folder, a torn file, memory: the same next time
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            self._failed = (
                f"this worker's sound model can't be loaded (REELBOT_SOUND_MODEL="
                f"{self.setting or self.source}: {first}). {CONVERT_HINT}"
            )
            log.error("%s", self._failed)
            raise SoundUnavailable(BROKEN_TEXT) from exc
        load_s = time.perf_counter() - started
        log.info("sound model %s loaded on %s in %.1f s", self.source, self.device, load_s)
        return load_s


def _load_pipeline(source: str, device: str) -> Any:
    """The pipeline on `device` (bf16 on CUDA, fp32 on CPU, as the video families)."""
    from worker.backends.common import resolve_device

    resolved, dtype = resolve_device(device)
    if source == TINY:
        from worker.sound_tiny import build_tiny_sound

        return build_tiny_sound().to(resolved)
    from diffusers import StableAudio3Pipeline

    pipe = StableAudio3Pipeline.from_pretrained(source, torch_dtype=dtype)
    pipe.set_progress_bar_config(disable=True)
    return pipe.to(resolved)


def with_sound(
    clip: RenderedClip, spec: RenderSpec, model: SoundModel
) -> tuple[RenderedClip, float]:
    """`clip` with a track made for it, and the seconds the model took to load first."""
    track, load_s = model.make(sound_words(spec), spec.num_frames / spec.fps, spec.seed)
    return replace(clip, audio=track.audio, sample_rate=track.sample_rate), load_s


def parent_frames(spec: RenderSpec, inputs: Sequence[Path]) -> RenderedClip:
    """Add sound's picture: the parent's finished MP4 decoded at the clip's size and rate (in
    the sandboxed child every stored video is read in), for the scan, poster and preview."""
    from worker.backends import RenderedClip
    from worker.media_decode import ClipPlan
    from worker.media_sandbox import read_clip

    if spec.mode != "sound" or len(inputs) != 1:
        raise ValueError(f"mode {spec.mode!r} with {len(inputs)} inputs: Add sound takes one clip")
    plan = ClipPlan(width=spec.width, height=spec.height, fps=spec.fps, frames=spec.num_frames)
    return RenderedClip(frames=read_clip(inputs[0], plan), fps=float(spec.fps))
