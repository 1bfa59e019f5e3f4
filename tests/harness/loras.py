"""Tiny random LoRAs in diffusers' own file layout, for the styles tests and bench/styles.py.

A LoRA is made the way a trainer makes one: peft's `LoraConfig` on a throwaway copy of the
family's tiny denoiser, both matrices random (peft's default zero `lora_B` would change
nothing), saved with the pipeline class's `save_lora_weights` as `.safetensors`. So the worker
loads it through `load_lora_weights` exactly as it would a LoRA from the hub.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

TARGETS = ["to_q", "to_k", "to_v"]


def tiny_denoiser(family: str) -> tuple[Any, Any]:
    """(pipeline class, a fresh tiny denoiser) for a family whose tiny model is built in code."""
    if family == "tiny":
        from diffusers import LTXPipeline

        from worker.backends.tiny import _build_pipeline

        return LTXPipeline, _build_pipeline().transformer
    if family == "wan":
        from diffusers import WanPipeline

        from worker.backends.wan import _build_tiny

        return WanPipeline, _build_tiny().transformer
    if family == "animatediff":
        from diffusers import AnimateDiffPipeline

        from worker.backends.animatediff import _build_tiny

        return AnimateDiffPipeline, _build_tiny().unet
    raise ValueError(f"no tiny LoRA maker for {family!r}")


def save_tiny_lora(
    folder: Path,
    *,
    family: str = "tiny",
    seed: int = 0,
    rank: int = 4,
    std: float = 0.5,
    weight_name: str = "lora.safetensors",
) -> Path:
    """A random rank-`rank` LoRA on the attention projections of `family`'s tiny denoiser,
    saved under `folder` as `weight_name`; its path."""
    import torch
    from peft import LoraConfig, get_peft_model_state_dict
    from peft.tuners.tuners_utils import BaseTunerLayer

    pipeline_class, denoiser = tiny_denoiser(family)
    config = LoraConfig(r=rank, lora_alpha=rank, target_modules=TARGETS, init_lora_weights=False)
    denoiser.add_adapter(config)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in denoiser.modules():
            if isinstance(module, BaseTunerLayer) and "default" in module.lora_A:
                for weight in (module.lora_A["default"].weight, module.lora_B["default"].weight):
                    weight.copy_(torch.randn(weight.shape, generator=generator) * std)
    layers = get_peft_model_state_dict(denoiser)
    folder.mkdir(parents=True, exist_ok=True)
    key = "unet_lora_layers" if family == "animatediff" else "transformer_lora_layers"
    pipeline_class.save_lora_weights(folder, weight_name=weight_name, **{key: layers})
    return folder / weight_name
