"""LTX-Video (Lightricks): text-, image-to-video, extend and 2x upscale, on one set of weights.

- `t2v`: `diffusers.LTXPipeline`.
- `i2v`: `diffusers.LTXConditionPipeline` with the picture as the condition at frame 0.
- `extend`: the same pipeline conditioned on the last `EXTEND_CONTEXT` frames of the input video
  (at frame 0, `EXTEND_STRENGTH`): the new clip starts where the old one ends and goes on. It is
  returned whole, overlap included, so it plays on from the parent's last moment; the overlap
  fades from the input's own frames into the rendered ones (`_open_on`), since the VAE's round
  trip of the conditioning frames is close to them, never equal.
- `-loop` and /animate's end picture: the condition pipeline with keyframes at frame 0 and at
  the last frame (`worker.backends.keyframes`: a text-to-video loop renders its first frame
  first), the seam then closed in pixels.
- `upscale`: `diffusers.LTXLatentUpsamplePipeline` doubles the input video's latents spatially,
  then a short partial denoise (`UPSCALE_DENOISE`) with the condition pipeline restores texture;
  the spec's size is the output size, so it must be a multiple of 64 (the input renders at half).

All four share the transformer, VAE and text encoder: nothing is loaded or placed twice.
The default model is the guidance- and timestep-distilled 13B 0.9.7 checkpoint: guidance 1.0
(so Pika's guidance scale has no effect), 8 steps on its own timestep schedule, and the spatial
upscaler released with it. Another LTX checkpoint can be named with `REELBOT_MODEL` (a hub id or a
local folder in diffusers layout); `builtin:tiny` builds the tiny random model of
`worker.backends.tiny` (same classes, no download) plus a tiny random latent upsampler.

Sizes are multiples of 32, frame counts 8k+1 (the VAE compresses 32x in space, 8x in time).
LTX has no camera or motion input: `-camera` is the virtual camera of `worker.camera` (render
25% larger, move a window), and `-motion` sets how far it travels.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from core.capabilities import FAMILIES
from core.models import LTX_UPSAMPLER_ID
from core.spec import RenderSpec
from worker import camera as vcam
from worker.backends import RenderedClip, StepCallback
from worker.backends.common import (
    TINY,
    check_spec,
    frames_for,
    optimize,
    resolve_device,
    step_callback,
    to_uint8,
)
from worker.backends.keyframes import ended, ltx_ending, wants_ending
from worker.fast import FastPath
from worker.images import fit_image
from worker.media_decode import ClipPlan
from worker.media_sandbox import read_clip
from worker.motion import camera_travel
from worker.styles import StyleAdapters

log = logging.getLogger(__name__)

DEFAULT_MODEL = "Lightricks/LTX-Video-0.9.7-distilled"
UPSAMPLER_MODEL = LTX_UPSAMPLER_ID  # REELBOT_LTX_UPSAMPLER_MODEL
# The distilled checkpoint's own schedules (diffusers' LTX docs): first pass, and upscale refine.
DISTILLED_TIMESTEPS = (1000, 993, 987, 981, 975, 909, 725, 0.03)
DISTILLED_REFINE_TIMESTEPS = (1000, 909, 725, 421, 0)
EXTEND_CONTEXT = 9  # input frames the continuation is conditioned on (8k+1)
EXTEND_STRENGTH = 1.0
UPSCALE_DENOISE = 0.4  # share of the schedule re-run on the upscaled latents
_STEP = 8
# The transformer Lightricks' distillation LoRA was trained on: the 13B 0.9.7 (48 layers, 4096
# wide). Any other (the 2B models, `builtin:tiny`, a tiny pulled folder) renders -fast without it.
_LORA_LAYERS, _LORA_WIDTH = 48, 4096

CAPABILITIES = FAMILIES["ltx"]


class LTXBackend:
    """LTX-Video pipelines over one set of modules, kept warm; one clip at a time."""

    capabilities = CAPABILITIES

    def __init__(self, pipe: Any, condition_pipe: Any, upsample_pipe: Any, *, distilled: bool):
        self.pipe = pipe
        self.condition_pipe = condition_pipe
        self.upsample_pipe = upsample_pipe
        self.distilled = distilled
        self.device = str(pipe._execution_device)
        self._lock = threading.Lock()
        self.fast = FastPath(self.device)  # the -fast recipe, switched on per clip
        # a distilled checkpoint needs no LoRA; one of another shape can't take it
        self.fast_lora = not distilled and lora_fits(pipe.transformer)
        self.styles = StyleAdapters.none(CAPABILITIES.name)  # the worker sets the file's

    def _call_kwargs(self, spec: RenderSpec, on_step: StepCallback) -> dict[str, Any]:
        """What every LTX call shares: prompt, guidance, schedule, seed, decoding, progress."""
        import torch

        kwargs: dict[str, Any] = {
            "prompt": spec.full_prompt(),
            "negative_prompt": spec.full_negative_prompt(),
            "frame_rate": self.capabilities.native_fps,
            "guidance_scale": self.capabilities.guidance_for(spec.quality, spec.guidance_scale),
            "generator": torch.Generator(self.device).manual_seed(spec.seed),
            "output_type": "np",
            "callback_on_step_end": step_callback(on_step),
        }
        # the distillation LoRA of a -fast clip runs on the distilled checkpoint's schedule
        distilled = self.distilled or (spec.quality == "fast" and self.fast_lora)
        if distilled and spec.steps == len(DISTILLED_TIMESTEPS):
            kwargs["timesteps"] = list(DISTILLED_TIMESTEPS)
        else:
            kwargs["num_inference_steps"] = spec.steps
        if self.distilled:  # the timestep-aware VAE of 0.9.1+ decodes best with a little noise
            kwargs |= {"decode_timestep": 0.05, "decode_noise_scale": 0.025}
        return kwargs

    def render(
        self, spec: RenderSpec, on_step: StepCallback, *, inputs: Sequence[Path] = ()
    ) -> RenderedClip:
        """Render `spec`; for i2v `inputs` is one picture, for extend and upscale one video."""
        caps = self.capabilities
        check_spec(caps, spec, inputs)
        moving = vcam.moves(spec.camera)
        if moving and spec.mode in ("extend", "upscale"):
            raise ValueError(f"camera={spec.camera!r} can't be used with mode {spec.mode!r}")
        if spec.mode == "upscale":
            return self._upscale(spec, on_step, inputs[0])
        width, height = vcam.render_size(spec.width, spec.height, caps.size_multiple, spec.camera)
        num_frames = frames_for(spec.duration_s, caps.native_fps, _STEP, minimum=_STEP + 1)
        kwargs = self._call_kwargs(spec, on_step)
        kwargs |= {"width": width, "height": height, "num_frames": num_frames}
        # LTXPipeline always builds its own sigmas, so the distilled schedule's explicit
        # timesteps go through the condition pipeline, which runs text-to-video with no condition.
        pipe = self.condition_pipe if "timesteps" in kwargs else self.pipe
        ending = wants_ending(spec)
        if ending:  # keyframes at the first and last frame, made where the pipeline is held
            pipe = self.condition_pipe
            if self.distilled:
                kwargs["image_cond_noise_scale"] = 0.0
        elif spec.mode in ("i2v", "extend"):
            from diffusers.pipelines.ltx.pipeline_ltx_condition import LTXVideoCondition

            pipe = self.condition_pipe
            if spec.mode == "i2v":
                condition = LTXVideoCondition(image=fit_image(inputs[0], width, height))
            else:
                # the video's last frames only, fitted as decoded, in a bounded child
                plan = ClipPlan(width, height, caps.native_fps, EXTEND_CONTEXT, from_end=True)
                tail = read_clip(inputs[0], plan)
                if len(tail) < EXTEND_CONTEXT:
                    raise ValueError(
                        f"mode 'extend' needs an input video of at least {EXTEND_CONTEXT} frames "
                        f"at {caps.native_fps} fps, got {len(tail)}"
                    )
                overlap = [Image.fromarray(frame) for frame in tail]
                condition = LTXVideoCondition(video=overlap, strength=EXTEND_STRENGTH)
            kwargs["conditions"] = [condition]
            if self.distilled:
                kwargs["image_cond_noise_scale"] = 0.0
        with (
            self._lock,
            self.styles.use(pipe, spec) as style,
            self.fast.use(pipe, spec.quality, caps.fast, lora=self.fast_lora, adapters=style),
        ):
            if ending:
                kwargs = ltx_ending(pipe, kwargs, spec, inputs, on_step)
            video = pipe(**kwargs).frames[0]
        frames = to_uint8(video)
        if spec.mode == "extend":
            frames = _open_on(frames, overlap)
        if moving:
            travel = camera_travel(spec.motion)
            frames = vcam.apply_camera(frames, spec.camera, spec.width, spec.height, travel=travel)
        if ending:
            frames = ended(frames, spec, inputs, caps.native_fps)
        return RenderedClip(frames=frames, fps=float(caps.native_fps))

    def _upscale(self, spec: RenderSpec, on_step: StepCallback, video_path: Path) -> RenderedClip:
        caps = self.capabilities
        if spec.width % 64 or spec.height % 64:
            raise ValueError(
                f"width={spec.width} and height={spec.height} must both be multiples of 64 "
                "for mode 'upscale' (the input is read at half that size)"
            )
        longest = frames_for(caps.max_seconds, caps.native_fps, _STEP)
        # at most the longest clip's frames, fitted at half size as decoded, in a bounded child
        plan = ClipPlan(spec.width // 2, spec.height // 2, caps.native_fps, longest)
        frames = read_clip(video_path, plan)
        if len(frames) < _STEP + 1:
            raise ValueError(
                f"mode 'upscale' needs an input video of at least {_STEP + 1} frames "
                f"at {caps.native_fps} fps, got {len(frames)}"
            )
        # 8k+1 covering every input frame (the last one repeated to get there): cutting down to
        # 8k+1 instead froze the upscaled clip's end for up to 7 frames
        count = min(math.ceil((len(frames) - 1) / _STEP) * _STEP + 1, longest)
        frames = np.concatenate([frames, np.repeat(frames[-1:], count - len(frames), axis=0)])
        low = [Image.fromarray(frame) for frame in frames[:count]]
        kwargs = self._call_kwargs(spec, on_step)
        pipe = self.condition_pipe
        with (
            self._lock,
            self.styles.use(pipe, spec) as style,
            self.fast.use(pipe, spec.quality, caps.fast, lora=self.fast_lora, adapters=style),
        ):
            latents = self.upsample_pipe(
                video=low,
                width=spec.width // 2,
                height=spec.height // 2,
                generator=kwargs["generator"],
                output_type="latent",
            ).frames
            if "timesteps" in kwargs:
                kwargs["timesteps"] = list(DISTILLED_REFINE_TIMESTEPS)
                kwargs["denoise_strength"] = 0.999
            else:  # spec.steps are the steps actually run, the tail of a longer schedule
                kwargs["num_inference_steps"] = math.ceil(spec.steps / UPSCALE_DENOISE)
                kwargs["denoise_strength"] = UPSCALE_DENOISE
            video = self.condition_pipe(
                **kwargs,
                latents=latents,
                width=spec.width,
                height=spec.height,
                num_frames=count,
            ).frames[0]
        return RenderedClip(frames=to_uint8(video), fps=float(caps.native_fps))


def _open_on(frames: np.ndarray, overlap: Sequence[Image.Image]) -> np.ndarray:
    """The rendered continuation, its first frames faded in from `overlap` (the input's last
    frames, which they were conditioned on): frame 0 is the input's own, so the clip starts
    exactly where its parent left off, and the fade hides the VAE's round-trip drift."""
    out = frames.copy()
    count = min(len(overlap), len(frames))
    for i in range(count):
        rendered = i / count  # 0 at the first frame, rising towards 1 at the overlap's end
        given = np.asarray(overlap[i].convert("RGB"), dtype=np.float32)
        mixed = given * (1.0 - rendered) + frames[i].astype(np.float32) * rendered
        out[i] = np.clip(np.round(mixed), 0, 255).astype(np.uint8)
    return out


def lora_fits(transformer: Any) -> bool:
    """Whether the recipe's distillation LoRA is for this transformer (the 13B 0.9.7 shape);
    for any other, -fast is the recipe's steps and cache without it, and nothing is fetched."""
    config = transformer.config
    width = config.num_attention_heads * config.attention_head_dim
    fits = bool(config.num_layers == _LORA_LAYERS and width == _LORA_WIDTH)
    if not fits:
        log.info(
            "ltx: the fast tier's distillation LoRA is for the 13B checkpoint; this transformer "
            "(%d layers, %d wide) renders -fast with fewer steps and the cache hook only",
            config.num_layers,
            width,
        )
    return fits


def _tiny_upsampler(vae: Any) -> Any:
    """A tiny random `LTXLatentUpsamplerModel` over the tiny VAE's 8 latent channels."""
    import torch
    from diffusers.pipelines.ltx.modeling_latent_upsampler import LTXLatentUpsamplerModel

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(1)
        upsampler = LTXLatentUpsamplerModel(
            in_channels=vae.config.latent_channels,
            mid_channels=32,
            num_blocks_per_stage=1,
            dims=3,
            spatial_upsample=True,
            temporal_upsample=False,
        )
    return upsampler.eval()


def load(
    model: str | None = None,
    device: str = "auto",
    *,
    ltx_upsampler_model: str = UPSAMPLER_MODEL,
) -> LTXBackend:
    """Load (or, for `builtin:tiny`, build) the pipelines and place them on `device`; the
    spatial upsampler is a repository of its own (a hub id or folder)."""
    from diffusers import LTXConditionPipeline, LTXLatentUpsamplePipeline, LTXPipeline

    from worker.model_sources import loading

    model = model or DEFAULT_MODEL
    device, dtype = resolve_device(device)
    started = time.perf_counter()
    if model == TINY:
        from worker.backends.tiny import _build_pipeline

        pipe = _build_pipeline()
        upsample = LTXLatentUpsamplePipeline(
            vae=pipe.vae, latent_upsampler=_tiny_upsampler(pipe.vae)
        )
        pipe.to(device)  # float32 everywhere: the tiny model is for CPUs and tests
        upsample.to(device)
    else:
        with loading("ltx", "model", model):
            condition = LTXConditionPipeline.from_pretrained(model, torch_dtype=dtype)
        pipe = LTXPipeline(**condition.components).to(device)
        with loading("ltx", "ltx_upsampler_model", ltx_upsampler_model):
            upsample = LTXLatentUpsamplePipeline.from_pretrained(
                ltx_upsampler_model, vae=pipe.vae, torch_dtype=dtype
            )
        upsample.to(device)
    # Speed options first, then the other modes over the same (perhaps wrapped) modules.
    optimize(pipe, device, CAPABILITIES)
    condition_pipe = LTXConditionPipeline(**pipe.components)
    for each in (pipe, condition_pipe, upsample):
        each.set_progress_bar_config(disable=True)
    log.info("ltx backend %s on %s in %.2f s", model, device, time.perf_counter() - started)
    return LTXBackend(pipe, condition_pipe, upsample, distilled="distilled" in model.lower())
