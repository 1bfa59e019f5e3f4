"""What a story costs: wall time per shot and the share spent outside denoising, on this machine.

A story of `--shots` shots (`--seconds` each) is rendered as the worker renders it
(`worker.story.render_story`: shot 1 text-to-video, each next shot image-to-video from the last
one's last frame, every finished shot stored as its own MP4), then encoded as the delivered clip.
Per shot it prints the wall time, the denoising loop's share (the steps' span, from the step
callbacks) and the rest (text and picture encoding, the VAE decode, storing the shot, the seam's
picture); then the final encode. For comparison, the same number of frames from diffusers'
`LTXI2VLongMultiPromptPipeline` over the same tiny modules (one long render in temporal
windows, one prompt per window from the `|` parts), which has no shots to store or resume.
Random weights: the figures are about the pipelines' work, not what a trained model shows.

    .venv/bin/python bench/story.py [--shots 3] [--seconds 2] [--steps 4] [--device cpu]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.spec import RenderSpec
from gallery.media import LocalMediaStore
from worker.backends import RenderedClip, load_backend
from worker.backends.tiny import native_frames
from worker.encode import encode_mp4
from worker.story import ShotFiles, render_story

TEXTS = [
    "a knight rides out",
    "the knight meets a dragon",
    "they share tea",
    "the dragon flies away",
    "night falls",
    "the knight sleeps",
    "morning comes",
    "the knight rides home",
]
GID = "be0c" + "0" * 28


class Timed:
    """Wraps a backend's render: each shot's wall time and its step callbacks' times."""

    def __init__(self, backend: Any) -> None:
        self.backend = backend
        self.capabilities = backend.capabilities
        self.shots: list[dict[str, float]] = []

    def render(self, spec: RenderSpec, on_step: Any, *, inputs: Any = ()) -> RenderedClip:
        steps: list[float] = []

        def step(i: int, total: int) -> None:
            steps.append(time.perf_counter())
            on_step(i, total)

        started = time.perf_counter()
        clip: RenderedClip = self.backend.render(spec, step, inputs=inputs)
        ended = time.perf_counter()
        n = len(steps)
        loop = (steps[-1] - steps[0]) * n / (n - 1) if n > 1 else 0.0
        self.shots.append({"start": started, "render": ended - started, "denoise": loop})
        return clip


def chained(backend: Any, spec: RenderSpec, folder: Path) -> None:
    timed = Timed(backend)
    files = ShotFiles(LocalMediaStore(folder), GID)
    started = time.perf_counter()
    clip = render_story(timed, spec, lambda *args: None, files=files)
    rendered = time.perf_counter()
    encode_mp4(clip.frames, clip.fps, folder / "story.mp4", fps=24, num_frames=spec.num_frames)
    ended = time.perf_counter()
    starts = [s["start"] for s in timed.shots] + [rendered]
    print(f"chained (worker.story): {len(clip.frames)} frames at {clip.fps:g} fps")
    print(f"{'shot':>5} {'wall s':>7} {'denoise':>8} {'outside':>8}")
    denoise_total = 0.0
    for k, shot in enumerate(timed.shots):
        wall = starts[k + 1] - shot["start"]  # its render, storing it and the seam's picture
        denoise_total += shot["denoise"]
        outside = 1 - shot["denoise"] / wall
        print(f"{k + 1:>5} {wall:7.2f} {shot['denoise']:8.2f} {outside:8.0%}")
    total = ended - started
    print(f"final encode {ended - rendered:.2f} s; story {total:.2f} s, ", end="")
    print(f"{1 - denoise_total / total:.0%} of it outside denoising")


def long_pipeline(backend: Any, spec: RenderSpec, frames: int, count: int) -> None:
    from diffusers import LTXI2VLongMultiPromptPipeline

    pipe = LTXI2VLongMultiPromptPipeline(**backend.pipe.components)
    pipe.set_progress_bar_config(disable=True)
    window = frames // count + 8  # about a shot a window, overlapping by 8 frames
    started = time.perf_counter()
    out = pipe(
        prompt=spec.prompt,
        width=spec.width,
        height=spec.height,
        num_frames=frames,
        frame_rate=backend.capabilities.native_fps,
        num_inference_steps=spec.steps,
        guidance_scale=backend.capabilities.backend_guidance(spec.guidance_scale),
        seed=spec.seed,
        temporal_tile_size=window,
        temporal_overlap=8,
        output_type="np",
    )
    wall = time.perf_counter() - started
    got = len(out.frames[0])
    print(f"LTXI2VLongMultiPromptPipeline: {got} frames in {wall:.2f} s (windows of {window})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shots", type=int, default=3, choices=range(2, 9))
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    backend = load_backend("tiny", device=args.device)
    texts = TEXTS[: args.shots]
    per_shot = round(args.seconds * 24)
    spec = RenderSpec(
        prompt=" | ".join(texts),
        aspect_ratio="16:9",
        width=512,
        height=288,
        num_frames=per_shot * len(texts),
        fps=24,
        steps=args.steps,
        seed=1,
        mode="story",
    )
    print(f"tiny on {args.device}, {args.shots} shots of {args.seconds:g} s, {args.steps} steps")
    render_story(backend, spec, lambda *a: None)  # warm-up: first-call costs out of the figures
    with tempfile.TemporaryDirectory() as folder:
        chained(backend, spec, Path(folder))
    shot_frames = native_frames(args.seconds)
    frames = shot_frames + (shot_frames - 1) * (args.shots - 1)  # the chained clip's length
    long_pipeline(backend, spec, frames, args.shots)


if __name__ == "__main__":
    main()
