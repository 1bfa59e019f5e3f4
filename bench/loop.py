"""What a loop or an end picture costs against the same clip made plainly, on this machine.

For each family's tiny build (tiny; ltx and wan with `builtin:tiny` at the e2e tests' small
sizes) it renders, `--repeat` times each, the best wall time (as timeit: on a shared machine
the least disturbed run) of: a plain text-to-video clip;
a text-to-video loop (one-frame render of the first frame, then the clip conditioned on it at
both ends); an image-to-video clip; and the same picture ending on a second picture. Then the
seam (`close_on`) alone on a real-size clip. Random weights: the figures are about the
pipeline's work, not what a trained model shows.

    .venv/bin/python bench/loop.py [--repeat 3] [--device cpu]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.spec import RenderSpec
from worker.backends import load_backend
from worker.backends.keyframes import close_on

SIZES = {"tiny": (512, 288, 4), "ltx": (256, 128, 2), "wan": (128, 64, 2)}  # width, height, steps


def pictures(folder: Path) -> tuple[Path, Path]:
    rng = np.random.default_rng(0)
    paths = []
    for name in ("start", "end"):
        path = folder / f"{name}.png"
        Image.fromarray(rng.integers(0, 255, (240, 320, 3), np.uint8)).save(path)
        paths.append(path)
    return paths[0], paths[1]


def timed(backend: Any, spec: RenderSpec, inputs: list[Path], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        backend.render(spec, lambda step, total: None, inputs=inputs)
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        start, end = pictures(Path(folder))
        print(f"best of {args.repeat}, {args.device}, seconds per clip (2 s at 24 fps)")
        print(f"{'family':8} {'t2v':>6} {'loop':>6} {'i2v':>6} {'end':>6}")
        for family, (width, height, steps) in SIZES.items():
            model = None if family == "tiny" else "builtin:tiny"
            backend = load_backend(family, model=model, device=args.device)
            base = RenderSpec(
                prompt="a paper boat on a rainy street",
                aspect_ratio=f"{width}:{height}",
                width=width,
                height=height,
                num_frames=48,
                fps=24,
                steps=steps,
                seed=1,
                backend=family,
            )
            image = base.model_copy(update={"mode": "i2v", "input_media": ("a/a.png",)})
            ends = image.model_copy(update={"end_frame": True, "input_media": ("a", "b")})
            plain = timed(backend, base, [], args.repeat)
            looped = timed(backend, base.model_copy(update={"loop": True}), [], args.repeat)
            animated = timed(backend, image, [start], args.repeat)
            ended = timed(backend, ends, [start, end], args.repeat)
            print(f"{family:8} {plain:6.2f} {looped:6.2f} {animated:6.2f} {ended:6.2f}")
        frames = np.random.default_rng(1).integers(0, 255, (121, 512, 768, 3), np.uint8)
        started = time.perf_counter()
        close_on(frames, frames[0], source_fps=24, fps=24, num_frames=120)
        seam = time.perf_counter() - started
        print(f"the seam alone on 121 frames of 768x512: {seam * 1000:.0f} ms")


if __name__ == "__main__":
    main()
