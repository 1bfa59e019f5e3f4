"""What keyframes (/frames) cost against the same clip made plainly, on the tiny model.

Renders, `--repeat` times each (best wall time: on a shared machine the least disturbed run),
a plain text-to-video clip and the same clip passing through 2, 3 and 5 flat pictures (one
`LTXConditionPipeline` render with a condition per picture, then the pixel hold). Random
weights: the figures are about the pipeline's work, not what a trained model shows.

    .venv/bin/python bench/frames.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.frames import picture_kind
from core.spec import RenderSpec
from worker.backends import load_backend

GID = "0123456789abcdef0123456789abcdef"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    backend = load_backend("tiny", device="cpu")
    base = {"prompt": "a", "aspect_ratio": "4:3", "width": 384, "height": 288}
    base |= {"num_frames": 48, "fps": 24, "steps": 4, "seed": 5}

    def best(spec: RenderSpec, inputs: list[Path]) -> float:
        times = []
        for _ in range(args.repeat):
            start = time.perf_counter()
            backend.render(spec, lambda s, t: None, inputs=inputs)
            times.append(time.perf_counter() - start)
        return min(times)

    with tempfile.TemporaryDirectory() as root:
        paths = []
        for k in range(5):
            path = Path(root) / f"{k}.png"
            Image.fromarray(np.full((240, 320, 3), 50 * k, np.uint8)).save(path)
            paths.append(path)
        print(f"plain          {best(RenderSpec(**base), []):6.2f} s")
        for count in (2, 3, 5):
            media = tuple(f"{GID[:2]}/{GID}.{picture_kind(k)}" for k in range(count))
            spec = RenderSpec(**base | {"mode": "frames", "input_media": media})
            print(f"{count} keyframes    {best(spec, paths[:count]):6.2f} s")


if __name__ == "__main__":
    main()
