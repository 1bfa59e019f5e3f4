"""What finding "the red car" costs (issue 18): wall time of `RegionFinder.find` and peak RSS.

    python bench/regions.py                      # the tiny model, 832x480, 17 and 49 frames
    python bench/regions.py --size 64x48 --threads 2

One line per clip length: frames, wall seconds of one `find` (after a warm-up find), and the
process's peak RSS so far. The tiny model (`builtin:tiny`, random, 56 px input) says what the
code around SAM 3 costs (resizing frames, the tracker's bookkeeping, upsampling each mask to the
frame's size), not what the real model costs: that is one 1008 px ViT-L pass per processed frame
on a GPU, at most `MAX_FRAMES` of them.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="832x480", help="frame WIDTHxHEIGHT (default Wan's 480p)")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    parser.add_argument("--frames", default="17,49", help="clip lengths, comma-separated")
    args = parser.parse_args()

    import numpy as np
    import torch
    from PIL import Image

    from worker.regions import TINY, RegionFinder

    torch.set_num_threads(args.threads)
    width, height = (int(part) for part in args.size.lower().split("x"))
    finder = RegionFinder.load(TINY, device="cpu", threshold=0.1)
    rng = np.random.default_rng(0)

    def clip(count: int) -> list[Image.Image]:
        return [
            Image.fromarray(rng.integers(0, 255, (height, width, 3), dtype=np.uint8))
            for _ in range(count)
        ]

    finder.find(clip(3), "the red car")  # warm-up: first-call allocations, lazy imports
    for count in (int(part) for part in args.frames.split(",")):
        frames = clip(count)
        started = time.perf_counter()
        masks = finder.find(frames, "the red car")
        wall = time.perf_counter() - started
        rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        found = "none found" if masks is None else f"{masks.mean():.0%} of pixels"
        print(
            f"regions tiny cpu {width}x{height} frames={count}: find {wall:.2f} s, "
            f"peak RSS {rss_mib:.0f} MiB ({found}, threads={args.threads})"
        )


if __name__ == "__main__":
    main()
