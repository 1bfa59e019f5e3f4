"""Clips that end on a picture: `-loop` (the clip's own first frame) and /animate's end image.

Two parts, both needed:

1. The model is asked for it. LTX (`tiny`, `ltx`): `LTXConditionPipeline` with the picture as a
   condition at frame 0 (the start picture, or for a loop the same picture) and at the last
   frame index (`ltx_conditions`). Wan: `WanImageToVideoPipeline(image=…, last_image=…)`, with
   TI2V's last latent frame pinned as its first is (`worker.backends.wan_ends`). A text-to-video
   loop has no picture yet, so a one-frame render of the same prompt and seed makes it first
   (`first_frame_kwargs`): a single latent frame, a few percent of the clip's work (0.4 s of
   2.7 s for the tiny model's default clip on 2 CPU cores), and then the clip is rendered
   between it and itself.
2. The seam is closed in pixels (`close_on`). A conditioned last frame comes back through the
   VAE near the picture, never equal to it (with the tiny random weights, not even near), so
   the last `FADE_S` seconds fade into the picture and the frames the encoder's last output
   frame reads are the picture itself: the delivered clip's last frame is its first frame (a
   loop) or the member's picture (fitted to the clip's size), whatever the model made, as
   `worker.backends.ltx._open_on` makes an extension start on its parent's own last frame.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from core.spec import RenderSpec
from worker.images import fit_image

FADE_S = 0.35  # how long the clip's end takes to fade into the picture it ends on


def wants_ending(spec: RenderSpec) -> bool:
    """Whether the clip ends on a picture: its own first frame, the member's end image, or the
    last of its keyframes (mode "frames", `worker.backends.frames`)."""
    return spec.loop or spec.end_frame or spec.mode == "frames"


def last_read(source_frames: int, source_fps: float, fps: int, num_frames: int) -> int:
    """The first source frame the encoder's last output frame reads (`worker.encode`'s
    resampling: output frame j sits at j / fps, blending the source frames around it)."""
    position = min((num_frames - 1) * source_fps / fps, float(source_frames - 1))
    return math.floor(position + 1e-6)


def close_on(
    frames: np.ndarray, target: np.ndarray, *, source_fps: float, fps: int, num_frames: int
) -> np.ndarray:
    """`frames` ending on `target` (H, W, 3 uint8): from the frame the delivered clip's last
    frame reads on they are `target`, and over `FADE_S` before that they fade into it."""
    if target.shape != frames.shape[1:]:
        raise ValueError(f"the end picture is {target.shape}, the frames {frames.shape[1:]}")
    out = frames.copy()
    hold = last_read(len(frames), source_fps, fps, num_frames)
    fade = min(max(1, round(FADE_S * source_fps)), hold)
    picture = target.astype(np.float32)
    for k in range(fade):  # k = 0 right before the held frames, nearest the picture
        index = hold - 1 - k
        toward = 1.0 - (k + 1) / (fade + 1)
        mixed = frames[index].astype(np.float32) * (1.0 - toward) + picture * toward
        out[index] = np.clip(np.round(mixed), 0, 255).astype(np.uint8)
    out[hold:] = target
    return out


def ltx_conditions(start: Image.Image, end: Image.Image, num_frames: int) -> list[Any]:
    """LTX keyframes: `start` at frame 0 (kept as the first latent frame) and `end` at the last
    frame index (its own tokens, placed at that time), for `LTXConditionPipeline`."""
    from diffusers.pipelines.ltx.pipeline_ltx_condition import LTXVideoCondition

    return [
        LTXVideoCondition(image=start, frame_index=0),
        LTXVideoCondition(image=end, frame_index=num_frames - 1),
    ]


def first_frame_kwargs(kwargs: dict[str, Any], spec: RenderSpec, on_step: Any) -> dict[str, Any]:
    """A render's arguments for its first frame alone (a text-to-video loop's picture): one
    frame, the same prompt, seed and schedule. Its steps report as step 0 of the clip's, so
    the member's progress starts with the clip, and a cancel still stops it."""

    def step_end(pipe: Any, i: int, t: Any, tensors: dict[str, Any]) -> dict[str, Any]:
        on_step(0, spec.steps)
        return {}

    import torch

    generator = torch.Generator(kwargs["generator"].device).manual_seed(spec.seed)
    return kwargs | {
        "num_frames": 1,
        "generator": generator,
        "output_type": "pil",
        "callback_on_step_end": step_end,
    }


def ltx_ending(
    pipe: Any,
    kwargs: dict[str, Any],
    spec: RenderSpec,
    inputs: Sequence[Path],
    on_step: Any,
) -> dict[str, Any]:
    """An LTX condition pipeline's arguments with the clip's keyframes: the start picture (or,
    for text-to-video, its first frame rendered now) at frame 0, and at the last frame the end
    picture or, for a loop, the start again. Call it where the render holds its pipeline."""
    if spec.mode == "frames":
        from worker.backends.frames import frames_kwargs

        return frames_kwargs(kwargs, spec, inputs)
    width, height = kwargs["width"], kwargs["height"]
    if spec.mode == "i2v":
        start = fit_image(inputs[0], width, height)
    else:
        start = pipe(**first_frame_kwargs(kwargs, spec, on_step)).frames[0][0]
    end = fit_image(inputs[1], width, height) if spec.end_frame else start
    return kwargs | {"conditions": ltx_conditions(start, end, kwargs["num_frames"])}


def ended(
    frames: np.ndarray, spec: RenderSpec, inputs: Sequence[Path], source_fps: float
) -> np.ndarray:
    """The rendered frames (at the spec's size, any camera move applied) closed on what the
    clip ends on: its own first frame, or the end picture fitted to the clip's size (a
    keyframes clip: every picture held at its point in time)."""
    if spec.mode == "frames":
        from worker.backends.frames import pinned

        return pinned(frames, spec, inputs, source_fps)
    if spec.end_frame:
        target = np.asarray(fit_image(inputs[1], spec.width, spec.height), dtype=np.uint8)
    else:
        target = frames[0]
    return close_on(frames, target, source_fps=source_fps, fps=spec.fps, num_frames=spec.num_frames)
