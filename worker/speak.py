"""/speak: a picture speaks a voice, and the voice is the clip's sound track.

The voice is the member's stored upload (`worker.speech.read_voice`) or their typed line voiced
by the worker's TTS (`worker.speech.SpeechModel`). Then, by family:

- a family that lip-syncs (`speak` on its backend: LTX-2) renders the picture to video with the
  voice's audio latents held in its audio stream (`worker.backends.lipsync`);
- any other family that offers "speak" (the tiny family, so the local stack does it out of the
  box) renders the picture to video and the voice is muxed beside it: no lip model, so the
  mouth does not follow the words there (README, "/speak").

/speak clip:… (mode "speak_clip") re-renders a member's finished clip, its video as input 0 and
read here at the clip's size and rate: LTX-2 (`speak_clip` on its backend) denoises the clip's
own frames, held as a video condition, beside the voice's latents; any other family offering
"speak_clip" (the tiny one) keeps the clip's frames as they are, cut to the clip's length, and
muxes the voice (no lip model there either).

Either way the track is the voice itself, cut or padded with silence to the clip's length and
faded out at a cut (never the model's own decoded audio), muxed as AAC by `worker.encode`.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from core.speak import SPEAK_CLIP, SPEAKING
from core.spec import RenderSpec
from worker.backends import RenderedClip, StepCallback
from worker.sound import fitted
from worker.speech import SpeechModel, Voice, read_voice


def speech_for(
    spec: RenderSpec, inputs: Sequence[Path], tts: SpeechModel
) -> tuple[Voice, dict[str, float]]:
    """The voice the picture speaks, and the time its TTS took (and loaded in), if any."""
    if spec.mode not in SPEAKING or len(inputs) != len(spec.input_media) or not inputs:
        raise ValueError(f"mode {spec.mode!r} with {len(inputs)} inputs: /speak takes a picture")
    if len(inputs) == 2:
        return read_voice(inputs[1]), {}
    started = time.perf_counter()
    voice, load_s = tts.say(spec.speak_text, spec.duration_s, spec.seed)
    return voice, {
        "tts": time.perf_counter() - started - load_s,
        **({"load": load_s} if load_s else {}),
    }


def render_speech(
    backend: Any, spec: RenderSpec, on_step: StepCallback, inputs: Sequence[Path], voice: Voice
) -> RenderedClip:
    """The picture (`inputs[0]`) speaking `voice`: frames by the family, the voice as track."""
    if spec.mode == SPEAK_CLIP:
        clip = _speak_on_clip(backend, spec, on_step, inputs[0], voice)
        track = fitted(voice.audio, voice.sample_rate, spec.duration_s)
        return replace(clip, audio=track, sample_rate=voice.sample_rate)
    speaks = getattr(backend, "speak", None)
    if speaks is not None:  # lip sync: the voice conditions the frames
        clip: RenderedClip = speaks(spec, on_step, inputs[0], voice.audio[0], voice.sample_rate)
    else:  # image-to-video; the voice is muxed beside it
        i2v = spec.model_copy(
            update={"mode": "i2v", "input_media": spec.input_media[:1], "speak_text": ""}
        )
        clip = backend.render(i2v, on_step, inputs=inputs[:1])
    track = fitted(voice.audio, voice.sample_rate, spec.duration_s)
    return replace(clip, audio=track, sample_rate=voice.sample_rate)


def original_frames(spec: RenderSpec, video: Path) -> np.ndarray:
    """The clip's first `spec.num_frames` frames at the spec's size and rate, decoded in the
    sandboxed child every stored video is read in; a short read holds its last frame."""
    from worker.media_decode import ClipPlan
    from worker.media_sandbox import read_clip

    plan = ClipPlan(width=spec.width, height=spec.height, fps=spec.fps, frames=spec.num_frames)
    frames = read_clip(video, plan)
    if len(frames) < spec.num_frames:
        held = np.repeat(frames[-1:], spec.num_frames - len(frames), axis=0)
        frames = np.concatenate([frames, held])
    return frames


def _speak_on_clip(
    backend: Any, spec: RenderSpec, on_step: StepCallback, video: Path, voice: Voice
) -> RenderedClip:
    frames = original_frames(spec, video)
    speaks = getattr(backend, "speak_clip", None)
    if speaks is not None:  # lip sync: the clip's frames re-rendered beside the voice
        clip: RenderedClip = speaks(spec, on_step, frames, voice.audio[0], voice.sample_rate)
        return clip
    for step in range(spec.steps):  # nothing to denoise; the bar still fills
        on_step(step + 1, spec.steps)
    return RenderedClip(frames=frames, fps=float(spec.fps))


def keeps_audio(spec: RenderSpec) -> bool:
    """Whether the clip's MP4 carries the audio the render returned: `-sound`, and /speak."""
    return spec.sound or spec.mode in SPEAKING
