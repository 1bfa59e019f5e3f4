"""Each model family's capabilities: data the front ends size requests with, no torch needed.

A backend module in `worker/backends/` renders with the entry of its name here; an operator's own
backend (`REELBOT_BACKEND=mypkg.backend`) is a module of theirs with a `CAPABILITIES` of its own.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping

from core.rendercaps import Capabilities, FastRecipe

FAMILIES: dict[str, Capabilities] = {
    "tiny": Capabilities(
        name="tiny",
        # speak: image-to-video, the voice muxed as its track (no lip model: README, /speak);
        # speak_clip: the clip's own frames, cut to the voice, with the voice muxed
        modes=("t2v", "i2v", "frames", "speak", "speak_clip"),
        # 512x288 is exactly 16:9 on the 32 grid; a default clip (17 frames, 4 steps) renders in
        # about 0.3 s on 2 idle CPU cores, nine tenths of it in the VAE decode.
        native_pixels=512 * 288,
        size_multiple=32,
        native_fps=8,
        default_seconds=2.0,
        max_seconds=4.0,
        default_steps=4,
        # LTXPipeline's default guidance is 3.0; 2-6 is our reading of its useful range. Pika's
        # default 12 lands on 3.0, and the low end stays above 1 so classifier-free guidance (and
        # with it the negative prompt) is always in play.
        guidance_range=(2.0, 6.0),
        native_camera=False,
        sound=False,
        adds_sound=True,  # worker.sound: -sound and 🔊 Add sound
        loop=True,  # LTX keyframe conditions, as the ltx family (worker.backends.keyframes)
        end_frame=True,
        fast=FastRecipe(
            steps=2,
            # first-block needs two transformer blocks; the tiny transformer has one
            cache="taylorseer",
            note="half the steps, with the TaylorSeer cache (no distilled tiny weights exist)",
        ),
    ),
    "ltx": Capabilities(
        name="ltx",
        modes=("t2v", "i2v", "extend", "upscale", "frames"),
        native_pixels=768 * 512,
        size_multiple=32,
        native_fps=24,
        default_seconds=5.0,
        max_seconds=10.0,  # 241 frames; the model was trained up to 257
        default_steps=8,
        guidance_range=(1.0, 1.0),  # guidance-distilled: classifier-free guidance off
        native_camera=False,
        frame_step=8,
        motion="virtual-camera travel",
        vram_gb=40.0,  # 13B transformer (26 GB) + T5-XXL (9.5 GB) in bf16, plus activations
        sound=False,
        adds_sound=True,
        # LTXConditionPipeline: the picture at frame 0 and at the last frame index
        loop=True,
        end_frame=True,
        # The default checkpoint is already step- and guidance-distilled (8 steps, CFG off): fast
        # adds the first-block cache (its preset is tuned for 8-step schedules) and FP8. A
        # non-distilled 0.9.7 checkpoint (REELBOT_MODEL=…-dev) gets Lightricks' distillation LoRA.
        fast=FastRecipe(
            steps=8,
            guidance=1.0,
            lora="Lightricks/LTX-Video::ltxv-13b-0.9.7-distilled-lora128.safetensors",
            cache="first-block",
            note="the distilled 8-step schedule, first-block cache, FP8 on Ada/Hopper GPUs",
        ),
    ),
    "wan": Capabilities(
        name="wan",
        modes=("t2v", "i2v", "v2v"),
        native_pixels=1280 * 704,
        size_multiple=32,
        native_fps=24,
        default_seconds=5.0,
        max_seconds=5.0,  # 121 frames, what TI2V-5B was trained on
        default_steps=50,
        guidance_range=(4.0, 8.0),  # Pika's 12 -> 5.0, Wan's default
        native_camera=False,
        frame_step=4,
        motion="virtual-camera travel",
        vram_gb=32.0,  # 5B transformer (10 GB) + UMT5-XXL (11 GB) bf16, fp32 VAE decode at 720p
        sound=False,
        adds_sound=True,
        # WanImageToVideoPipeline(image=…, last_image=…); TI2V's last latent frame pinned too
        loop=True,
        end_frame=True,
        # lightx2v's 4-step LoRAs (lightx2v/Wan2.1-Distill-Loras, …/Wan2.2-Distill-Loras) are
        # for the 14B models; none is published for TI2V-5B, the default. An operator serving a
        # 14B checkpoint names its LoRA in a backend of their own (a CAPABILITIES with `lora`).
        fast=FastRecipe(
            steps=20,
            cache="first-block",
            note="20 of 50 steps on Wan's UniPC scheduler, first-block cache, FP8 on Ada/Hopper",
        ),
    ),
    # Wan 2.1 VACE: text-to-video, and the clip editor (✏️ Modify, ↔ Expand, /add, /swap) as
    # masked video-to-video with reference pictures (WanVACEPipeline). The default is the 1.3B
    # checkpoint: 1.3B of Wan blocks plus its VACE blocks, 1.8B in all (the hub's transformer
    # shards, 7.15 GB in fp32), 3.6 GB in bf16, next to UMT5-XXL's 11.4 GB and a 0.5 GB VAE, so
    # a 480p edit fits a 24 GB card (Wan's own figure for the 1.3B T2V is 8.2 GB with the text
    # encoder offloaded). The 14B (REELBOT_MODEL=Wan-AI/Wan2.1-VACE-14B-diffusers) has a
    # 17B transformer (69.4 GB of fp32 shards in the diffusers copy), 35 GB in bf16 alone: an
    # 80 GB GPU; it also renders 720p, which these numbers (the 1.3B's 480p) do not ask of it.
    "wan_vace": Capabilities(
        name="wan_vace",
        modes=("t2v", "edit"),
        references=3,  # -ref: WanVACEPipeline(reference_images=…), saved characters
        native_pixels=832 * 480,  # what the 1.3B was trained at (480p)
        size_multiple=16,  # 8x VAE, 2x2 patches
        native_fps=16,
        default_seconds=5.0,  # 81 frames at 16 fps, its training length
        max_seconds=5.0,
        default_steps=50,
        guidance_range=(4.0, 8.0),  # Pika's 12 -> 5.0, the pipeline's default
        native_camera=False,
        frame_step=4,
        motion="virtual-camera travel",
        vram_gb=22.0,  # 1.8B transformer (3.6 GB) + UMT5-XXL (11.4 GB) bf16, fp32 VAE, 480p
        sound=False,
        adds_sound=True,
        fast=FastRecipe(
            steps=20,
            cache="off",  # the VACE transformer's control blocks are not in the cache registry
            note="20 of 50 steps on Wan's UniPC scheduler (no distilled 1.3B VACE weights wired)",
        ),
    ),
    "animatediff": Capabilities(
        name="animatediff",
        modes=("t2v", "illusion"),  # illusion: a ControlNet hides a message (worker.illusion)
        native_pixels=512 * 512,
        size_multiple=8,
        native_fps=8,
        default_seconds=2.0,  # 16 frames, what the motion module was trained on
        max_seconds=32 / 8,
        default_steps=25,
        guidance_range=(6.0, 12.0),  # Pika's 12 -> 7.5, SD's usual
        native_camera=True,
        frame_step=1,
        motion="MotionLoRA scale",
        vram_gb=8.0,  # SD 1.5 UNet + motion modules bf16, 16 frames at 512x512
        sound=False,
        adds_sound=True,
        fast=FastRecipe(
            steps=10,
            cache="off",  # a UNet: diffusers' cache hooks are for transformers
            note="10 of 25 steps on its own scheduler (no distilled weights wired)",
        ),
    ),
    "svd": Capabilities(
        name="svd",
        modes=("i2v",),
        native_pixels=1024 * 576,
        size_multiple=64,
        native_fps=7,
        default_seconds=24 / 7,
        max_seconds=24 / 7,  # 25 frames, what img2vid-xt was trained on
        default_steps=25,
        guidance_range=(2.5, 4.5),  # max_guidance_scale; Pika's 12 -> 3.0, SVD's default
        native_camera=False,
        frame_step=1,
        motion="motion_bucket_id and noise_aug_strength",
        vram_gb=16.0,  # 1.5B UNet bf16, 25 frames at 1024x576, decoded 8 frames at a time
        sound=False,
        adds_sound=True,
        fast=FastRecipe(
            steps=12,
            cache="off",  # a UNet: diffusers' cache hooks are for transformers
            note="12 of 25 steps on its own scheduler (no distilled weights wired)",
        ),
    ),
    "ltx2": Capabilities(
        name="ltx2",
        # speak: image-to-video with the voice's audio latents held fixed (worker.backends.lipsync);
        # speak_clip: the clip re-rendered on its own frames (a video condition) beside the voice
        modes=("t2v", "i2v", "speak", "speak_clip"),
        native_pixels=768 * 512,
        size_multiple=32,
        native_fps=24,
        default_seconds=5.0,  # 121 frames, the pipeline's default length
        max_seconds=10.0,  # 241 frames; the model card allows up to 257
        default_steps=30,
        # The pipeline's default is 3.0 (Pika's 12); 2-6 is our reading of the useful range.
        guidance_range=(2.0, 6.0),
        native_camera=False,
        sound=True,  # joint audio, kept for -sound
        adds_sound=True,  # 🔊 Add sound on a silent clip: worker.sound
        frame_step=8,
        motion="motion speed and virtual-camera travel",
        # 19B transformer (38 GB) + Gemma 3 12B (24 GB) + VAEs, vocoder, connectors (~2 GB) in bf16,
        # plus activations for a 10 s 768x512 clip.
        vram_gb=72.0,
        # TaylorSeer, not the first-block cache: diffusers' block registry, which the first-block
        # and Mag caches need, has no LTX-2 block (0.42), so that hook can't attach to it.
        fast=FastRecipe(
            steps=12,
            cache="taylorseer",
            note="12 of 30 steps, TaylorSeer cache, FP8 on Ada/Hopper (no distillation wired)",
        ),
    ),
}


# What a worker announces of its family's limits beside its modes (jobs.liveness), so a front
# end sizes a request for the worker that will render it: the built-in numbers, unless the
# worker serves smaller weights (TINY_LIMITS).
ANNOUNCED_LIMITS = ("native_pixels", "default_steps", "default_seconds", "max_seconds")
# A family's limits on its tiny random weights where the real ones would be far too slow on a
# CPU: the local tiny stack's editor (cli.up) at 480p took ~2 min a step on 2 cores, at 256x144
# seconds. Its clips are noise either way: they prove every part works.
TINY_LIMITS: dict[str, dict[str, float | int]] = {
    "wan_vace": {"native_pixels": 256 * 144, "default_steps": 4},
}


def served_capabilities(name: str, model: str | None) -> Capabilities:
    """The capabilities a worker of family `name` on weights `model` serves: the family's, or
    smaller ones on `builtin:tiny` (TINY_LIMITS)."""
    caps = capabilities_for(name)
    if model == "builtin:tiny" and caps.name in TINY_LIMITS:
        caps = caps.model_copy(update=TINY_LIMITS[caps.name])
    return caps


def announced_limits(caps: Capabilities) -> dict[str, float | int]:
    """The limits a worker announces (ANNOUNCED_LIMITS)."""
    return {key: getattr(caps, key) for key in ANNOUNCED_LIMITS}


def with_limits(caps: Capabilities, limits: Mapping[str, object]) -> Capabilities:
    """`caps` with the limits a worker announced; anything unreadable or unknown is ignored."""
    update = {
        k: v
        for k, v in limits.items()
        if k in ANNOUNCED_LIMITS
        and isinstance(v, int | float)
        and not isinstance(v, bool)
        and v > 0
    }
    if not update:
        return caps
    try:
        return Capabilities.model_validate({**caps.model_dump(), **update})
    except ValueError:
        return caps


def families_with(feature: str) -> list[str]:
    """The built-in families that have `feature` (a Capabilities switch, like "loop"), by name:
    what a refusal names, so the member or operator knows what to load instead."""
    return sorted(name for name, caps in FAMILIES.items() if getattr(caps, feature))


class UnknownBackend(ValueError):
    def __init__(self, name: str) -> None:
        super().__init__(
            f"unknown backend {name!r}; known: {', '.join(sorted(FAMILIES))}, "
            "or the dotted path of a module of your own (mypkg.backend)"
        )


def capabilities_for(name: str) -> Capabilities:
    """A built-in family's capabilities, or the `CAPABILITIES` of an operator's own backend
    module (imported by its dotted path, which must not import torch at module level)."""
    if name in FAMILIES:
        return FAMILIES[name]
    if "." not in name:
        raise UnknownBackend(name)
    try:
        module = importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and f"{name}.".startswith(f"{exc.name}."):  # it itself is missing
            raise UnknownBackend(name) from None
        raise  # the module is there but lacks a dependency: say which one
    caps: Capabilities = module.CAPABILITIES
    return caps
