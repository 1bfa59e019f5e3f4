"""AnimateDiff: a Stable Diffusion 1.5 model animated by a motion adapter, with camera MotionLoRAs.

`diffusers.AnimateDiffPipeline` over `MotionAdapter` v1-5-2 and an SD 1.5 checkpoint (the model
value; default epiCRealism). The camera is native: the eight MotionLoRAs guoyww trained for that
adapter are loaded once, by name, and each request picks its own with `set_adapters`:

| -camera                  | adapters                          |
|--------------------------|-----------------------------------|
| zoom in / zoom out       | zoom-in / zoom-out                |
| pan left / pan right     | pan-left / pan-right              |
| pan up / pan down        | tilt-up / tilt-down               |
| pan up left (etc.)       | tilt-up + pan-left (both at once) |
| rotate (counter)clockwise| rolling-(anti)clockwise           |
| static, or none          | all off                           |

Every adapter in play gets the weight `worker.motion.motion_lora_scale(spec.motion)` (0.4-1.2).

`builtin:tiny` builds the same classes tiny and random in code (UNet, motion adapter, VAE, CLIP
text model, a CLIP BPE tokenizer from an in-memory byte vocabulary) and, for the LoRAs, adds
eight tiny random PEFT LoRA adapters with the same names on the motion modules' attention
projections, so the very same `set_adapters` path runs in CI. What the tiny path skips is only
`load_lora_weights` from the hub (the files' format and download).

Native: 512x512, 16 frames at 8 fps (the motion module's positional table holds 32, so 4 s at
most); sizes are multiples of 8.
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
from core.models import CAMERA_LORA_NAMES, CAMERA_LORA_TEMPLATE, MOTION_ADAPTER_ID, camera_lora_repo
from core.spec import RenderSpec
from worker.backends import RenderedClip, StepCallback
from worker.backends.common import (
    TINY,
    check_spec,
    clip_tokenizer,
    clip_vocab,
    optimize,
    resolve_device,
    seeded_build,
    step_callback,
    to_uint8,
)
from worker.illusion import IllusionPipelines, conditioning_frames, spec_mask
from worker.motion import motion_lora_scale
from worker.styles import StyleAdapters, activate

log = logging.getLogger(__name__)

DEFAULT_MODEL = "emilianJR/epiCRealism"
MOTION_ADAPTER = MOTION_ADAPTER_ID  # REELBOT_ANIMATEDIFF_MOTION_ADAPTER
# REELBOT_ANIMATEDIFF_MOTION_LORAS: a hub id or folder template with {name} in it
MOTION_LORAS = {name: camera_lora_repo(name) for name in CAMERA_LORA_NAMES}
CAMERA_ADAPTERS: dict[str, tuple[str, ...]] = {
    "zoom in": ("zoom-in",),
    "zoom out": ("zoom-out",),
    "pan left": ("pan-left",),
    "pan right": ("pan-right",),
    "pan up": ("tilt-up",),
    "pan down": ("tilt-down",),
    "pan up left": ("tilt-up", "pan-left"),
    "pan up right": ("tilt-up", "pan-right"),
    "pan down left": ("tilt-down", "pan-left"),
    "pan down right": ("tilt-down", "pan-right"),
    "rotate clockwise": ("rolling-clockwise",),
    "rotate counterclockwise": ("rolling-anticlockwise",),
    "static": (),
}
MAX_FRAMES = 32
_MIN_FRAMES = 8

CAPABILITIES = FAMILIES["animatediff"]


def camera_adapters(camera: str | None, motion: int) -> tuple[list[str], list[float]]:
    """The adapters `set_adapters` gets for `-camera` and their weights for `-motion`."""
    if camera is None:
        return [], []
    try:
        names = list(CAMERA_ADAPTERS[camera])
    except KeyError:
        raise ValueError(f"camera={camera!r} has no AnimateDiff MotionLoRA") from None
    return names, [motion_lora_scale(motion)] * len(names)


def native_frames(duration_s: float, fps: int = CAPABILITIES.native_fps) -> int:
    """Frames covering `duration_s` (the encoder holds the last one), at least 8, at most 32."""
    return min(MAX_FRAMES, max(_MIN_FRAMES, math.ceil(duration_s * fps - 1e-9)))


class AnimateDiffBackend:
    """The AnimateDiff pipeline with its camera LoRAs loaded, kept warm; one clip at a time."""

    capabilities = CAPABILITIES

    def __init__(self, pipe: Any, *, tiny: bool = False) -> None:
        self.pipe = pipe
        self.illusion = IllusionPipelines(tiny=tiny)  # mode "illusion": its ControlNet pipeline
        self.device = str(pipe._execution_device)
        self._lock = threading.Lock()
        self.styles = StyleAdapters.none(CAPABILITIES.name)  # the worker sets the file's

    def render(
        self, spec: RenderSpec, on_step: StepCallback, *, inputs: Sequence[Path] = ()
    ) -> RenderedClip:
        import torch

        caps = self.capabilities
        pipe, hidden = self.pipe, dict[str, Any]()
        if spec.mode == "illusion":  # the mask under every frame, through the ControlNet
            num = native_frames(spec.duration_s, caps.native_fps)
            hidden = {
                "conditioning_frames": conditioning_frames(spec_mask(spec, inputs), num),
                "controlnet_conditioning_scale": spec.illusion_strength,
            }
            check_spec(caps, spec.model_copy(update={"mode": "t2v", "input_media": ()}), ())
            pipe = self.illusion.for_(self.pipe)
        else:
            check_spec(caps, spec, inputs)
        names, weights = camera_adapters(spec.camera, spec.motion)
        with self._lock, self.styles.use(self.pipe, spec) as style:
            # the camera's MotionLoRAs and the style's LoRA together, every other one off
            activate(self.pipe, dict(zip(names, weights, strict=True)) | style)
            video = pipe(
                **hidden,
                prompt=spec.full_prompt(),
                negative_prompt=spec.full_negative_prompt(),
                width=spec.width,
                height=spec.height,
                num_frames=native_frames(spec.duration_s, caps.native_fps),
                num_inference_steps=spec.steps,
                guidance_scale=caps.backend_guidance(spec.guidance_scale),
                generator=torch.Generator(self.device).manual_seed(spec.seed),
                output_type="np",
                callback_on_step_end=step_callback(on_step),
            ).frames[0]
        return RenderedClip(frames=to_uint8(video), fps=float(caps.native_fps))


def _build_tiny() -> Any:  # a diffusers.AnimateDiffPipeline
    """diffusers' AnimateDiff test components, smaller still, with an 8x VAE like SD's."""
    from diffusers import (
        AnimateDiffPipeline,
        AutoencoderKL,
        DDIMScheduler,
        MotionAdapter,
        UNet2DConditionModel,
    )
    from transformers import CLIPTextConfig, CLIPTextModel

    vocab = clip_vocab()
    with seeded_build(0):
        unet = UNet2DConditionModel(
            block_out_channels=(32, 64),
            layers_per_block=1,
            sample_size=32,
            in_channels=4,
            out_channels=4,
            down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
            up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
            cross_attention_dim=32,
            norm_num_groups=2,
        )
        vae = AutoencoderKL(
            block_out_channels=[32, 32, 32, 32],
            in_channels=3,
            out_channels=3,
            down_block_types=["DownEncoderBlock2D"] * 4,
            up_block_types=["UpDecoderBlock2D"] * 4,
            latent_channels=4,
            layers_per_block=1,
        )
        text_encoder = CLIPTextModel(
            CLIPTextConfig(
                bos_token_id=vocab["<|startoftext|>"],
                eos_token_id=vocab["<|endoftext|>"],
                pad_token_id=vocab["<|endoftext|>"],
                hidden_size=32,
                intermediate_size=37,
                num_attention_heads=4,
                num_hidden_layers=2,
                vocab_size=len(vocab),
                max_position_embeddings=77,
            )
        )
        adapter = MotionAdapter(
            block_out_channels=(32, 64),
            motion_layers_per_block=1,
            motion_norm_num_groups=2,
            motion_num_attention_heads=4,
        )
    scheduler = DDIMScheduler(
        beta_start=0.00085, beta_end=0.012, beta_schedule="linear", clip_sample=False
    )
    pipe = AnimateDiffPipeline(
        unet=unet,
        motion_adapter=adapter,
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=clip_tokenizer(),
        scheduler=scheduler,
        feature_extractor=None,
        image_encoder=None,
    )
    for module in (pipe.unet, pipe.vae, pipe.text_encoder):
        module.eval()
    _add_tiny_loras(pipe)
    return pipe


def _add_tiny_loras(pipe: Any) -> None:
    """Random rank-4 LoRAs on the motion modules' attention, one per camera MotionLoRA name."""
    import warnings

    from peft import LoraConfig

    for i, name in enumerate(MOTION_LORAS):
        config = LoraConfig(
            r=4,
            lora_alpha=4,
            target_modules=r".*motion_modules.*\.(to_q|to_k|to_v|to_out\.0)",
            init_lora_weights=False,  # random, so each adapter visibly changes the clip
        )
        with seeded_build(100 + i), warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Already found a `peft_config`")
            pipe.unet.add_adapter(config, adapter_name=name)


def save_memory(pipe: Any) -> None:
    """Decode the clip's frames a few at a time: the real model's VAE would otherwise need
    several GB for 16 frames at 512 px. (diffusers 0.42 moved this from the pipeline to the VAE.)"""
    pipe.vae.enable_slicing()


def load(
    model: str | None = None,
    device: str = "auto",
    *,
    animatediff_motion_adapter: str = MOTION_ADAPTER,
    animatediff_motion_loras: str = CAMERA_LORA_TEMPLATE,
) -> AnimateDiffBackend:
    """Load (or, for `builtin:tiny`, build) the pipeline and its camera LoRAs on `device`; the
    motion adapter and each LoRA are repositories of their own (hub ids or folders)."""
    model = model or DEFAULT_MODEL
    device, dtype = resolve_device(device)
    started = time.perf_counter()
    if model == TINY:
        pipe = _build_tiny().to(device)  # float32: the tiny model is for CPUs and tests
    else:
        from diffusers import AnimateDiffPipeline, DDIMScheduler, MotionAdapter

        from worker.model_sources import loading

        adapter_from = animatediff_motion_adapter
        with loading("animatediff", "animatediff_motion_adapter", adapter_from):
            adapter = MotionAdapter.from_pretrained(adapter_from, torch_dtype=dtype)
        with loading("animatediff", "model", model):
            pipe = AnimateDiffPipeline.from_pretrained(
                model, motion_adapter=adapter, torch_dtype=dtype
            )
            pipe.scheduler = DDIMScheduler.from_pretrained(
                model,
                subfolder="scheduler",
                clip_sample=False,
                timestep_spacing="linspace",
                beta_schedule="linear",
                steps_offset=1,
            )
        for name in CAMERA_LORA_NAMES:
            repo = camera_lora_repo(name, animatediff_motion_loras)
            with loading("animatediff", "animatediff_motion_loras", repo):
                pipe.load_lora_weights(repo, adapter_name=name)
        pipe.to(device)
        save_memory(pipe)
    pipe.set_progress_bar_config(disable=True)
    optimize(pipe, device, CAPABILITIES)
    log.info("animatediff backend %s on %s in %.2f s", model, device, time.perf_counter() - started)
    return AnimateDiffBackend(pipe, tiny=model == TINY)
