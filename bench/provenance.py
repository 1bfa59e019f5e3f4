"""The watermark's cost, visibility and robustness, per scene.

    python bench/provenance.py [--runs 5] [--scenes model,gradient,noise]

Scenes (17 frames at 8 fps, 512x288, encoded like the worker does to 48 frames at 24 fps):
`model` is the tiny backend's render (noise-like), `gradient` a smooth sky with moving discs
(the worst case for visibility), `noise` uniform noise (the best case). For each: embed time per
clip and per frame, PSNR of the marked frames against the originals, read time for the encoded
48-frame clip (`read_watermark`: decode + vote) and for all of `verify_clip`, and the bit error
rate of the vote after the worker's crf 20 encode, a stranger's re-encode without tags at 1/2,
1/4 and 1/10 of its bit rate, and the worker's `encode_to_fit` at 1/10 of its size.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.harness.provenance import GID  # noqa: E402
from tests.harness.video import gradient_scene, reencode  # noqa: E402
from worker.encode import encode_mp4, encode_to_fit  # noqa: E402
from worker.verify import verify_clip  # noqa: E402
from worker.watermark import embed_watermark, payload_bits, read_watermark  # noqa: E402


def model_scene() -> np.ndarray:
    from core.spec import RenderSpec
    from worker.backends import load_backend
    from worker.backends.tiny import CAPABILITIES

    width, height = CAPABILITIES.snap_size(16, 9)
    spec = RenderSpec(
        prompt="a red fox running through snow at sunset",
        aspect_ratio="16:9",
        width=width,
        height=height,
        num_frames=48,
        steps=CAPABILITIES.default_steps,
        seed=1234,
    )
    return load_backend("tiny", device="cpu").render(spec, lambda step, total: None).frames


def noise_scene() -> np.ndarray:
    return np.random.default_rng(5).integers(0, 256, (17, 288, 512, 3), dtype=np.uint8)


SCENES = {"model": model_scene, "gradient": gradient_scene, "noise": noise_scene}


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b) ** 2))
    return 10 * np.log10(255**2 / mse) if mse else float("inf")


def timed(runs: int, call, *args):  # type: ignore[no-untyped-def]
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        result = call(*args)
        times.append(time.perf_counter() - started)
    return result, statistics.median(times) * 1000


def ber(path: Path) -> str:
    reading = read_watermark(path)
    if reading is None:
        return "-"
    errors = float(np.mean(reading.bits != payload_bits(GID)))
    return f"{errors:.3f} ({reading.confidence:.2f})"


def bench(name: str, frames: np.ndarray, runs: int, folder: Path) -> list[str]:
    marked, embed_ms = timed(runs, embed_watermark, frames, GID)
    produced = encode_mp4(marked, 8.0, folder / f"{name}.mp4", fps=24, num_frames=48).path
    _, read_ms = timed(runs, read_watermark, produced)
    _, verify_ms = timed(runs, verify_clip, produced)
    copies = {"crf20": produced}
    for share in (2, 4, 10):
        copy = folder / f"{name}-{share}.mp4"
        reencode(produced, copy, produced.stat().st_size * 8 // 2 // share)
        copies[f"1/{share}"] = copy
    fitted = encode_to_fit(
        marked,
        8.0,
        folder / f"{name}-fit.mp4",
        fps=24,
        num_frames=48,
        max_bytes=produced.stat().st_size // 10,
    )
    copies["fit 1/10"] = fitted.path if fitted else None
    row = [
        name,
        f"{embed_ms:.1f}",
        f"{embed_ms / len(frames):.2f}",
        f"{read_ms:.1f}",
        f"{read_ms / 48:.2f}",
        f"{verify_ms:.1f}",
        f"{psnr(marked, frames):.1f}",
    ]
    return row + [ber(path) if path else "-" for path in copies.values()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--scenes", default=",".join(SCENES))
    args = parser.parse_args()
    head = ["scene", "embed-ms/clip", "/frame", "read-ms/48f", "/frame", "verify-ms", "PSNR-dB"]
    head += ["BER crf20", "1/2", "1/4", "1/10", "fit 1/10"]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.scenes.split(","):
            rows.append(bench(name, SCENES[name](), args.runs, Path(tmp)))
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    for row in [head, *rows]:
        print("  ".join(cell.rjust(w) for cell, w in zip(row, widths, strict=True)))
    print("BER: bit error rate of the vote over all frames (confidence in brackets)")


if __name__ == "__main__":
    main()
