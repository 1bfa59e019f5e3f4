"""Stable Video Diffusion (Stability AI): image-to-video only, no prompt.

`diffusers.StableVideoDiffusionPipeline` with the img2vid-xt checkpoint: 25 frames at 1024x576,
conditioned on the picture alone (the prompt is not used: SVD has no text encoder). `-motion`
is SVD's own motion conditioning (see `worker.motion`):

| -motion | motion_bucket_id | noise_aug_strength |
|---------|------------------|--------------------|
| 0       | 40               | 0.02               |
| 1       | 80               | 0.02               |
| 2       | 127 (SVD default)| 0.03               |
| 3       | 180              | 0.05               |
| 4       | 255              | 0.08               |

Pika's guidance scale sets SVD's `max_guidance_scale` (the guidance ramps from 1.0 on the first
frame to it on the last). `-camera` is the virtual camera of `worker.camera`: the picture is
fitted to the larger render size, and the window moves over the rendered frames.

`builtin:tiny` builds the same classes tiny and random in code (spatio-temporal UNet, temporal-
decoder VAE with SD's 8x geometry, a CLIP vision encoder at 224 px): no download. Sizes are
multiples of 64, clips at most 25 frames at 7 fps.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from core.capabilities import FAMILIES
from core.spec import RenderSpec
from worker import camera as vcam
from worker.backends import RenderedClip, StepCallback
from worker.backends.common import (
    TINY,
    check_spec,
    optimize,
    resolve_device,
    seeded_build,
    step_callback,
    to_uint8,
)
from worker.images import fit_image
from worker.motion import camera_travel, svd_motion

log = logging.getLogger(__name__)

DEFAULT_MODEL = "stabilityai/stable-video-diffusion-img2vid-xt"
MAX_FRAMES = 25
_FPS = 7

CAPABILITIES = FAMILIES["svd"]


def native_frames(duration_s: float, fps: int = _FPS) -> int:
    """The fewest frames whose span, (frames - 1) / fps, covers `duration_s`; 2 to 25."""
    return min(MAX_FRAMES, max(2, math.ceil(duration_s * fps - 1e-9) + 1))


class SVDBackend:
    """The SVD pipeline, kept warm; one clip at a time."""

    capabilities = CAPABILITIES

    def __init__(self, pipe: Any, *, decode_chunk_size: int) -> None:
        self.pipe = pipe
        self.device = str(pipe._execution_device)
        self.decode_chunk_size = decode_chunk_size
        self._lock = threading.Lock()

    def render(
        self, spec: RenderSpec, on_step: StepCallback, *, inputs: Sequence[Path] = ()
    ) -> RenderedClip:
        """Render `spec` from the one picture in `inputs`; the prompt is not used."""
        import torch

        caps = self.capabilities
        check_spec(caps, spec, inputs)
        width, height = vcam.render_size(spec.width, spec.height, caps.size_multiple, spec.camera)
        with self._lock:
            video = self.pipe(
                image=fit_image(inputs[0], width, height),
                width=width,
                height=height,
                num_frames=native_frames(spec.duration_s, caps.native_fps),
                num_inference_steps=spec.steps,
                min_guidance_scale=1.0,
                max_guidance_scale=caps.backend_guidance(spec.guidance_scale),
                fps=caps.native_fps,
                **svd_motion(spec.motion),
                decode_chunk_size=self.decode_chunk_size,
                generator=torch.Generator(self.device).manual_seed(spec.seed),
                output_type="np",
                callback_on_step_end=step_callback(on_step),
            ).frames[0]
        frames = to_uint8(video)
        if vcam.moves(spec.camera):
            travel = camera_travel(spec.motion)
            frames = vcam.apply_camera(frames, spec.camera, spec.width, spec.height, travel=travel)
        return RenderedClip(frames=frames, fps=float(caps.native_fps))


def _build_tiny() -> Any:  # a diffusers.StableVideoDiffusionPipeline
    """diffusers' SVD test components, with SD's 8x VAE and CLIP's real 224 px input."""
    from diffusers import (
        AutoencoderKLTemporalDecoder,
        EulerDiscreteScheduler,
        StableVideoDiffusionPipeline,
        UNetSpatioTemporalConditionModel,
    )
    from transformers import CLIPImageProcessor, CLIPVisionConfig, CLIPVisionModelWithProjection

    with seeded_build(0):
        unet = UNetSpatioTemporalConditionModel(
            block_out_channels=(32, 64),
            layers_per_block=1,
            sample_size=32,
            in_channels=8,
            out_channels=4,
            down_block_types=("CrossAttnDownBlockSpatioTemporal", "DownBlockSpatioTemporal"),
            up_block_types=("UpBlockSpatioTemporal", "CrossAttnUpBlockSpatioTemporal"),
            cross_attention_dim=32,
            num_attention_heads=8,
            projection_class_embeddings_input_dim=96,
            addition_time_embed_dim=32,
        )
        vae = AutoencoderKLTemporalDecoder(
            block_out_channels=[32, 32, 32, 32],
            in_channels=3,
            out_channels=3,
            down_block_types=["DownEncoderBlock2D"] * 4,
            latent_channels=4,
            layers_per_block=1,
        )
        image_encoder = CLIPVisionModelWithProjection(
            CLIPVisionConfig(
                hidden_size=32,
                projection_dim=32,
                num_hidden_layers=2,
                num_attention_heads=4,
                image_size=224,
                intermediate_size=37,
                patch_size=14,
            )
        )
    for module in (unet, vae, image_encoder):
        module.eval()
    scheduler = EulerDiscreteScheduler(
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        interpolation_type="linear",
        num_train_timesteps=1000,
        prediction_type="v_prediction",
        sigma_max=700.0,
        sigma_min=0.002,
        steps_offset=1,
        timestep_spacing="leading",
        timestep_type="continuous",
        use_karras_sigmas=True,
    )
    return StableVideoDiffusionPipeline(
        vae=vae,
        image_encoder=image_encoder,
        unet=unet,
        scheduler=scheduler,
        feature_extractor=CLIPImageProcessor(crop_size=224, size=224),
    )


def load(model: str | None = None, device: str = "auto") -> SVDBackend:
    """Load (or, for `builtin:tiny`, build) the pipeline and place it on `device`."""
    model = model or DEFAULT_MODEL
    device, dtype = resolve_device(device)
    started = time.perf_counter()
    if model == TINY:
        pipe = _build_tiny().to(device)  # float32: the tiny model is for CPUs and tests
    else:
        from diffusers import StableVideoDiffusionPipeline

        from worker.model_sources import loading

        with loading("svd", "model", model):
            pipe = StableVideoDiffusionPipeline.from_pretrained(model, torch_dtype=dtype)
        pipe.to(device)
    pipe.set_progress_bar_config(disable=True)
    optimize(pipe, device, CAPABILITIES)
    log.info("svd backend %s on %s in %.2f s", model, device, time.perf_counter() - started)
    return SVDBackend(pipe, decode_chunk_size=8)
