"""Wan 2.x (Alibaba): text-, image-to-video and video restyle, on one set of weights.

- `t2v`: `diffusers.WanPipeline`.
- `i2v`: `diffusers.WanImageToVideoPipeline`. The default model, Wan2.2-TI2V-5B, does image-to-
  video in the same transformer as text-to-video (`expand_timesteps`: the picture's latent frame
  is kept clean with its own timestep), so it needs no CLIP image encoder and no second checkpoint.
  The Wan 2.1 / 2.2-A14B image models are separate checkpoints with an image encoder (14B) and
  are not served by this backend's i2v; loaded here they render t2v and v2v only.
- `-loop` and /animate's end picture: the image pipeline with `last_image` (the start picture
  again for a loop; a text-to-video loop renders its first frame first), TI2V's last latent
  frame pinned as its first is (`worker.backends.wan_ends`), the seam closed in pixels
  (`worker.backends.keyframes`).
- `v2v` (restyle): `diffusers.WanVideoToVideoPipeline`: the input video is noised to
  `RESTYLE_STRENGTH` and denoised again under the new prompt, keeping its layout and motion.

All three share the transformer, VAE, text encoder and scheduler. The VAE stays in float32 (as
Wan's model card advises) while the rest runs in bf16 on CUDA. `builtin:tiny` builds the same
classes, tiny and random, in code (a 48-channel TI2V-style VAE and transformer, a UMT5 encoder, an
in-memory T5 tokenizer): no download. Sizes are multiples of 32 (16x VAE, 2x2 patches), frame
counts 4k+1. Wan has no camera or motion input: `-camera` is the virtual camera of
`worker.camera` and `-motion` sets how far it travels. Needs `ftfy` (prompt clean-up).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from PIL import Image

from core.capabilities import FAMILIES
from core.spec import RenderSpec
from worker import camera as vcam
from worker.backends import RenderedClip, StepCallback
from worker.backends.common import (
    TINY,
    check_spec,
    frames_for,
    optimize,
    resolve_device,
    seeded_build,
    step_callback,
    t5_tokenizer,
    tiny_umt5_encoder,
    to_uint8,
    wan_flow_scheduler,
)
from worker.backends.keyframes import ended, first_frame_kwargs, wants_ending
from worker.fast import FastPath
from worker.images import fit_image
from worker.media_decode import ClipPlan
from worker.media_sandbox import read_clip
from worker.motion import camera_travel
from worker.styles import StyleAdapters

log = logging.getLogger(__name__)

DEFAULT_MODEL = "Wan-AI/Wan2.2-TI2V-5B-Diffusers"
RESTYLE_STRENGTH = 0.7  # 1.0 ignores the input video, 0.0 returns it unchanged
_STEP = 4

CAPABILITIES = FAMILIES["wan"]


class WanBackend:
    """Wan pipelines over one set of modules, kept warm; one clip at a time."""

    capabilities = CAPABILITIES

    def __init__(
        self, pipe: Any, image_pipe: Any | None, video_pipe: Any, *, max_sequence_length: int
    ) -> None:
        self.pipe = pipe
        self.max_sequence_length = max_sequence_length  # prompt tokens; Wan was trained on 512
        self.image_pipe = image_pipe  # None: this checkpoint has no single-transformer i2v
        self.video_pipe = video_pipe
        self.device = str(pipe._execution_device)
        self._lock = threading.Lock()
        self.fast = FastPath(self.device)  # the -fast recipe, switched on per clip
        self.styles = StyleAdapters.none(CAPABILITIES.name)  # the worker sets the file's

    def _call_kwargs(self, spec: RenderSpec, on_step: StepCallback) -> dict[str, Any]:
        """The arguments every Wan call shares."""
        import torch

        return {
            "prompt": spec.full_prompt(),
            "negative_prompt": spec.full_negative_prompt(),
            "num_inference_steps": spec.steps,
            "guidance_scale": self.capabilities.guidance_for(spec.quality, spec.guidance_scale),
            "generator": torch.Generator(self.device).manual_seed(spec.seed),
            "max_sequence_length": self.max_sequence_length,
            "output_type": "np",
            "callback_on_step_end": step_callback(on_step),
        }

    def render(
        self, spec: RenderSpec, on_step: StepCallback, *, inputs: Sequence[Path] = ()
    ) -> RenderedClip:
        """Render `spec`; for i2v `inputs` is one picture, for v2v one video."""
        caps = self.capabilities
        check_spec(caps, spec, inputs)
        moving = vcam.moves(spec.camera)
        if moving and spec.mode == "v2v":
            raise ValueError(f"camera={spec.camera!r} can't be used with mode 'v2v'")
        width, height = vcam.render_size(spec.width, spec.height, caps.size_multiple, spec.camera)
        kwargs = self._call_kwargs(spec, on_step) | {"width": width, "height": height}
        pipe = self.pipe
        ending = wants_ending(spec)
        if spec.mode == "v2v":
            needed = frames_for(spec.duration_s, caps.native_fps, _STEP)
            # only the frames the clip uses, fitted as they are decoded, in a bounded child
            plan = ClipPlan(width, height, caps.native_fps, needed)
            frames = read_clip(inputs[0], plan)
            count = (len(frames) - 1) // _STEP * _STEP + 1
            pipe = self.video_pipe
            kwargs |= {"video": [Image.fromarray(frame) for frame in frames[:count]]}
            # spec.steps are the steps actually run: the tail of a longer schedule
            kwargs |= {"strength": RESTYLE_STRENGTH}
            kwargs["num_inference_steps"] = math.ceil(spec.steps / RESTYLE_STRENGTH)
        else:
            kwargs["num_frames"] = frames_for(spec.duration_s, caps.native_fps, _STEP)
            if spec.mode == "i2v" or ending:
                if self.image_pipe is None:
                    what = "mode 'i2v'" if spec.mode == "i2v" else "loop=True"
                    raise ValueError(
                        f"{what} needs a Wan2.2-TI2V checkpoint; this model renders t2v and v2v"
                    )
                pipe = self.image_pipe
            if spec.mode == "i2v":
                kwargs["image"] = fit_image(inputs[0], width, height)
            if spec.end_frame:
                kwargs["last_image"] = fit_image(inputs[1], width, height)
        with (
            self._lock,
            self.styles.use(pipe, spec) as style,
            self.fast.use(pipe, spec.quality, caps.fast, adapters=style),
        ):
            if ending and "image" not in kwargs:  # a text-to-video loop: its first frame now
                kwargs["image"] = self.pipe(**first_frame_kwargs(kwargs, spec, on_step)).frames[0][
                    0
                ]
            if spec.loop:
                kwargs["last_image"] = kwargs["image"]
            video = pipe(**kwargs).frames[0]
        frames = to_uint8(video)
        if moving:
            travel = camera_travel(spec.motion)
            frames = vcam.apply_camera(frames, spec.camera, spec.width, spec.height, travel=travel)
        if ending:
            frames = ended(frames, spec, inputs, caps.native_fps)
        return RenderedClip(frames=frames, fps=float(caps.native_fps))


def _build_tiny() -> Any:  # a diffusers.WanPipeline
    """TI2V-5B's geometry in miniature (diffusers' Wan 2.2 5B test components), seeded."""
    from diffusers import (
        AutoencoderKLWan,
        WanPipeline,
        WanTransformer3DModel,
    )

    with seeded_build(0):
        vae = AutoencoderKLWan(
            base_dim=3,
            z_dim=48,
            in_channels=12,
            out_channels=12,
            is_residual=True,
            patch_size=2,
            latents_mean=[0.0] * 48,
            latents_std=[1.0] * 48,
            dim_mult=[1, 1, 1, 1],
            num_res_blocks=1,
            scale_factor_spatial=16,
            scale_factor_temporal=4,
            temperal_downsample=[False, True, True],
        )
        text_encoder = tiny_umt5_encoder()
        transformer = WanTransformer3DModel(
            patch_size=(1, 2, 2),
            num_attention_heads=2,
            attention_head_dim=12,
            in_channels=48,
            out_channels=48,
            text_dim=32,
            freq_dim=256,
            ffn_dim=32,
            num_layers=2,
            cross_attn_norm=True,
            qk_norm="rms_norm_across_heads",
            rope_max_seq_len=1024,  # Wan's own: 32 stopped at 1024 px, short of 16:9's 1280
        )
    for module in (vae, text_encoder, transformer):
        module.eval()
    scheduler = wan_flow_scheduler()
    return WanPipeline(
        tokenizer=t5_tokenizer(64),
        text_encoder=text_encoder,
        vae=vae,
        scheduler=scheduler,
        transformer=transformer,
        expand_timesteps=True,
    )


def _use_vae_scale(video_pipe: Any, pipe: Any) -> None:
    """diffusers 0.42's v2v pipeline derives its VAE scale from Wan 2.1's VAE (8x): take the
    text-to-video pipeline's, read from the VAE's config (16x for the Wan 2.2 VAE)."""
    from diffusers.video_processor import VideoProcessor

    video_pipe.vae_scale_factor_spatial = pipe.vae_scale_factor_spatial
    video_pipe.vae_scale_factor_temporal = pipe.vae_scale_factor_temporal
    video_pipe.video_processor = VideoProcessor(vae_scale_factor=pipe.vae_scale_factor_spatial)


def load(model: str | None = None, device: str = "auto") -> WanBackend:
    """Load (or, for `builtin:tiny`, build) the pipelines and place them on `device`."""
    from diffusers import WanVideoToVideoPipeline

    from worker.backends.wan_ends import first_last_class

    model = model or DEFAULT_MODEL
    device, dtype = resolve_device(device)
    started = time.perf_counter()
    if model == TINY:
        pipe = _build_tiny().to(device)  # float32: the tiny model is for CPUs and tests
    else:
        import torch
        from diffusers import AutoencoderKLWan, WanPipeline

        from worker.model_sources import loading

        with loading("wan", "model", model):
            vae = AutoencoderKLWan.from_pretrained(
                model, subfolder="vae", torch_dtype=torch.float32
            )
            pipe = WanPipeline.from_pretrained(model, vae=vae, torch_dtype=dtype)
        pipe.to(device)
    # Speed options first, then the other modes over the same (perhaps wrapped) modules.
    optimize(pipe, device, CAPABILITIES)
    shared = {k: pipe.components[k] for k in ("tokenizer", "text_encoder", "vae", "scheduler")}
    image_pipe = None
    if pipe.config.expand_timesteps and pipe.transformer_2 is None:
        image_pipe = first_last_class()(
            **shared,
            transformer=pipe.transformer,
            image_processor=None,
            image_encoder=None,
            expand_timesteps=True,
        )
    video_pipe = WanVideoToVideoPipeline(**shared, transformer=pipe.transformer)
    _use_vae_scale(video_pipe, pipe)
    for each in (pipe, image_pipe, video_pipe):
        if each is not None:
            each.set_progress_bar_config(disable=True)
    log.info("wan backend %s on %s in %.2f s", model, device, time.perf_counter() - started)
    tokens = pipe.tokenizer.model_max_length if model == TINY else 512
    return WanBackend(pipe, image_pipe, video_pipe, max_sequence_length=tokens)
