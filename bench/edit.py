"""Where an edit's time goes, on the tiny wan_vace model on a CPU.

One modify with a box, one expand (16:9 to 9:16) and one modify naming a thing in words (the
tiny SAM 3 region finder, loaded before timing), each on a 1 s parent clip. For each, one line
per phase with its share of the edit's wall time: reading the parent (the bounded decoder's
child process), finding the region, the prompt's encoding, VACE's conditioning (the pipeline's
preprocess of video + mask + pictures and their VAE encodes, timed by wrapping those pipeline
methods), denoising (the rest of the pipeline call), the VAE decode, compositing and encoding
the MP4. Random weights: the figures are about the pipeline's work, not what a trained model
shows, and the tiny VAE and transformer weigh differently from the real ones.

    .venv/bin/python bench/edit.py [--steps 4]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.edits import Box, EditSpec, expand_canvas
from core.spec import RenderSpec
from worker import edit_inputs
from worker.backends import load_backend
from worker.backends.wan_vace import CAPABILITIES, WanVaceBackend
from worker.encode import encode_mp4
from worker.regions import TINY, RegionFinder

WIDTH, HEIGHT = 160, 96
PIXELS = WIDTH * HEIGHT  # the expand's canvas at the tiny model's scale
PHASES = ("read parent", "find region", "prompt", "conditioning", "denoise", "decode")
PHASES += ("composite", "encode")


class Clock:
    """Seconds per phase; `wrap` times every call of a function under a phase's name."""

    def __init__(self) -> None:
        self.spent: dict[str, float] = defaultdict(float)

    def wrap(self, phase: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                self.spent[phase] += time.perf_counter() - start

        return timed


def instrument_editor(clock: Clock) -> None:
    """Wrap the editor's steps (module names in `worker.edit_inputs`), once."""
    for name in ("read_clip", "scan_samples"):
        setattr(edit_inputs, name, clock.wrap("read parent", getattr(edit_inputs, name)))
    edit_inputs.composite = clock.wrap("composite", edit_inputs.composite)  # type: ignore[attr-defined]


def instrument(backend: WanVaceBackend, clock: Clock) -> None:
    """Wrap the pipeline's steps and the region finder's (instance attributes)."""
    pipe = backend.pipe
    for name in ("preprocess_conditions", "prepare_video_latents", "prepare_masks"):
        setattr(pipe, name, clock.wrap("conditioning", getattr(pipe, name)))
    pipe.encode_prompt = clock.wrap("prompt", pipe.encode_prompt)
    pipe.vae.decode = clock.wrap("decode", pipe.vae.decode)
    pipe_call = type(pipe).__call__
    backend.pipe = _Timed(pipe, clock.wrap("pipeline", lambda **kw: pipe_call(pipe, **kw)))
    finder = backend._finder
    assert finder is not None
    finder.find = clock.wrap("find region", finder.find)  # type: ignore[method-assign]


class _Timed:
    """The pipeline, its call timed as a whole (denoising is what its parts leave)."""

    def __init__(self, pipe: Any, call: Callable[..., Any]) -> None:
        self._pipe, self._call = pipe, call

    def __call__(self, **kwargs: Any) -> Any:
        return self._call(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._pipe, name)


def parent_clip(path: Path, width: int, height: int) -> None:
    y, x = np.mgrid[0:height, 0:width]
    frames = np.empty((24, height, width, 3), np.uint8)
    for t in range(24):
        frames[t, ..., 0] = (x * 255 // width + 4 * t) % 256
        frames[t, ..., 1] = y * 255 // height
        frames[t, ..., 2] = 90
    frames[:, height // 4 : height // 2, width // 3 : width // 2] = (220, 30, 30)
    encode_mp4(frames, 24.0, path, fps=24, num_frames=24)


def run(backend: WanVaceBackend, spec: RenderSpec, parent: Path, out: Path, clock: Clock) -> None:
    clock.spent.clear()
    instrument(backend, clock)
    started = time.perf_counter()
    clip = backend.render(spec, lambda s, t: None, inputs=[parent])
    start = time.perf_counter()
    encode_mp4(clip.frames, clip.fps, out, fps=spec.fps, num_frames=spec.num_frames)
    clock.spent["encode"] = time.perf_counter() - start
    wall = time.perf_counter() - started
    spent = clock.spent
    spent["denoise"] = spent.pop("pipeline", 0.0) - sum(
        spent[p] for p in ("prompt", "conditioning", "decode")
    )
    assert spec.edit is not None
    print(
        f"{spec.edit.describe()}: {spec.width}x{spec.height}, {len(clip.frames)} frames, "
        f"{spec.steps} steps, {wall:.2f} s"
    )
    other = wall - sum(spent.values())
    for phase, seconds in [*((p, spent.get(p, 0.0)) for p in PHASES), ("other", other)]:
        print(f"  {phase:<12} {seconds:6.2f} s  {100 * seconds / wall:5.1f} %")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=4)
    args = parser.parse_args()
    base: dict[str, Any] = {"prompt": "a blue car on a street", "num_frames": 24, "fps": 24}
    base |= {"steps": args.steps, "seed": 5, "backend": "wan_vace", "mode": "edit"}
    with tempfile.TemporaryDirectory() as root:
        wide, parent = Path(root) / "wide.mp4", Path(root) / "parent.mp4"
        parent_clip(parent, WIDTH, HEIGHT)
        parent_clip(wide, 192, 108)  # 16:9
        tall = expand_canvas(192, 108, expand_to="9:16", native_pixels=PIXELS, multiple=16)
        cases = [
            (EditSpec(kind="modify", box=Box(x=25, y=25, w=50, h=50)), parent, WIDTH, HEIGHT),
            (EditSpec(kind="expand", expand_to="9:16"), wide, tall.width, tall.height),
            (EditSpec(kind="modify", where="the red car"), parent, WIDTH, HEIGHT),
        ]
        clock = Clock()
        instrument_editor(clock)
        for edit, source, width, height in cases:
            backend = load_backend("wan_vace", model="builtin:tiny", device="cpu")
            assert isinstance(backend, WanVaceBackend)
            backend.capabilities = CAPABILITIES.model_copy(update={"native_pixels": PIXELS})
            backend._finder = RegionFinder.load(TINY, device="cpu", threshold=0.1)
            spec = RenderSpec(
                **base,
                edit=edit,
                width=width,
                height=height,
                aspect_ratio=f"{width}:{height}",
                input_media=("parent.mp4",),
            )
            run(backend, spec, source, Path(root) / "out.mp4", clock)


if __name__ == "__main__":
    main()
