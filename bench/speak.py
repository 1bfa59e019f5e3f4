"""What /speak costs on this machine: wall time of each stage, on the tiny models.

Stages, as the worker runs them: the TTS voicing a typed line (the tiny Dia, `worker.speech`),
the voice's encode to LTX-2 audio latents (mel, `audio_vae.encode`: `worker.backends.lipsync`),
the denoising with the voice held (tiny LTX-2 image-to-video, `LTX2Backend.speak`: its wall time
includes the text encoder and the VAE decode) and the tiny family's image-to-video for
comparison, and the MP4 mux with the voice as AAC (`worker.encode`). Figures only, no
assertions; random weights, so they are about the pipelines' work, not a trained model's.

    .venv/bin/python bench/speak.py [--seconds 2] [--steps 4] [--rounds 3] [--device cpu]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
from PIL import Image

from core.spec import RenderSpec
from worker.backends import load_backend
from worker.backends.lipsync import encode_voice
from worker.encode import encode_mp4
from worker.speak import render_speech
from worker.speech import SpeechModel, Voice, resampled

LINE = "Hello there! This is a short line for the bench, about two seconds long."


def timed(rounds: int, run: Callable[[], Any]) -> tuple[float, Any]:
    """The median wall time of `rounds` runs (after one warm-up), and the last result."""
    result = run()
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="bench-speak-"))
    face = folder / "face.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (288, 512, 3), np.uint8)).save(face)
    frames = round(args.seconds * 24)
    base: dict[str, Any] = {
        "prompt": "a person speaking to the camera",
        "aspect_ratio": "16:9",
        "num_frames": frames,
        "fps": 24,
        "steps": args.steps,
        "seed": 1,
        "mode": "speak",
        "input_media": ("ab/a.png",),
        "speak_text": LINE,
    }

    tts = SpeechModel("builtin:tiny", args.device)
    started = time.perf_counter()
    tts.say("warm", 0.5, 0)
    print(f"tts load (tiny Dia, built in code):   {time.perf_counter() - started:7.3f} s")
    spec = RenderSpec(**base, width=512, height=288, backend="tiny")
    t_tts, (voice, _) = timed(args.rounds, lambda: tts.say(LINE, spec.duration_s, 1))
    # a voice of the clip's length for the rest (the tiny Dia may stop early)
    t = np.arange(round(args.seconds * 44100)) / 44100
    voice = Voice((0.3 * np.sin(2 * np.pi * 200 * t)).astype(np.float32)[None, :], 44100)
    print(f"tts ({args.seconds:g} s line):                     {t_tts:7.3f} s")

    ltx2: Any = load_backend("ltx2", model="builtin:tiny", device=args.device)
    samples = resampled(voice, int(ltx2.pipe.audio_vae.config.sample_rate))
    t_enc, _ = timed(args.rounds, lambda: encode_voice(ltx2.image_pipe, samples, frames + 1, 24))
    print(f"audio encode (mel + audio VAE):       {t_enc:7.3f} s")

    no_step = lambda s, n: None  # noqa: E731
    two = (face, face)
    for name, backend, width, height in (("ltx2", ltx2, 256, 160), ("tiny", None, 512, 288)):
        backend = backend or load_backend("tiny", device=args.device)
        spoken = RenderSpec(**base, width=width, height=height, backend=name)
        t_render, clip = timed(
            args.rounds,
            lambda b=backend, s=spoken: render_speech(b, s, no_step, two[:1], voice),
        )
        what = "voice held, lip sync" if name == "ltx2" else "image-to-video, voice muxed"
        print(f"render {name} {width}x{height} ({what}): {t_render:.3f} s")
    out = folder / "clip.mp4"
    t_mux, _ = timed(
        args.rounds,
        lambda: encode_mp4(
            clip.frames,
            clip.fps,
            out,
            fps=24,
            num_frames=frames,
            audio=clip.audio,
            sample_rate=clip.sample_rate,
        ),
    )
    print(f"mux (H.264 + AAC voice):              {t_mux:7.3f} s")


if __name__ == "__main__":
    main()
