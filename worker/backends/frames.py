"""/frames (Pikaframes) on LTX (`tiny`, `ltx`): each picture a condition at its point in time.

`LTXConditionPipeline` takes conditions at any frame index, so picture k of K sits at frame
round(k·(N−1)/(K−1)) of the N rendered frames (`core.frames.frame_indices`), one condition per
picture, in one render. The pipeline takes one prompt, so the transitions' segments are joined
("dawn, then noon, then dusk"); a render per transition, each with its own prompt, would cost a
render each and seams to match (not done).

As with an end picture (`worker.backends.keyframes.close_on`), a conditioned frame comes back
through the VAE only near its picture (with the tiny random weights, not near at all), so the
delivered clip is pinned in pixels: the source frames the encoder reads for each picture's output
frame are the picture itself, and over `FADE_S` either side the clip fades into it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from core.frames import frame_indices, joined, segments
from core.spec import RenderSpec
from worker.images import fit_image

FADE_S = 0.35  # as worker.backends.keyframes.FADE_S: how long the clip fades into a picture


def frames_kwargs(
    kwargs: dict[str, Any], spec: RenderSpec, inputs: Sequence[Path]
) -> dict[str, Any]:
    """An LTX condition pipeline's arguments for a keyframes clip: one condition per picture at
    its evenly spaced frame index, and the segments joined into the one prompt."""
    from diffusers.pipelines.ltx.pipeline_ltx_condition import LTXVideoCondition

    width, height, num_frames = kwargs["width"], kwargs["height"], kwargs["num_frames"]
    indices = frame_indices(len(inputs), num_frames)
    conditions = [
        LTXVideoCondition(image=fit_image(path, width, height), frame_index=index)
        for path, index in zip(inputs, indices, strict=True)
    ]
    prompt = joined(segments(spec.prompt, len(inputs)))
    if spec.style and spec.style.prompt_suffix:
        prompt = f"{prompt}, {spec.style.prompt_suffix}"
    return kwargs | {"prompt": prompt, "conditions": conditions}


def held_frames(
    pictures: int, source_frames: int, source_fps: float, spec: RenderSpec
) -> list[tuple[int, int]]:
    """For each picture, the source frames (first, last) that the delivered clip's frame for it
    reads: output frame round(k·(M−1)/(K−1)) of the spec's M, at `spec.fps`."""
    spans = []
    for j in frame_indices(pictures, spec.num_frames):
        position = min(j * source_fps / spec.fps, float(source_frames - 1))
        first = math.floor(position + 1e-6)
        last = (
            source_frames - 1
            if j == spec.num_frames - 1
            else min(math.ceil(position - 1e-6), source_frames - 1)
        )
        spans.append((first, max(first, last)))
    return spans


def pinned(
    frames: np.ndarray, spec: RenderSpec, inputs: Sequence[Path], source_fps: float
) -> np.ndarray:
    """The rendered frames with each picture (fitted to the clip) held where the delivered clip
    shows it, and the frames within `FADE_S` of it faded toward it."""
    pictures = [
        np.asarray(fit_image(path, spec.width, spec.height), dtype=np.uint8) for path in inputs
    ]
    spans = held_frames(len(pictures), len(frames), source_fps, spec)
    fade = max(1, round(FADE_S * source_fps))
    out = frames.astype(np.float32)
    for index in range(len(frames)):
        # the nearest picture's distance from this frame, and which picture it is
        distance, k = min(
            (max(first - index, index - last, 0), k) for k, (first, last) in enumerate(spans)
        )
        if distance > fade:
            continue
        toward = 1.0 - distance / (fade + 1)
        out[index] = out[index] * (1.0 - toward) + pictures[k].astype(np.float32) * toward
    return np.clip(np.round(out), 0, 255).astype(np.uint8)
