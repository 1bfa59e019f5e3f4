"""Which real model makes a recognisable clip on a CPU in minutes: real-size architectures with
random weights, timed part by part at a low, CPU-friendly size.

No hub is reachable here, so every model is built in code from its published configuration
(the dimensions below; sources in each candidate's note) with random weights: the arithmetic, and
so the time and memory, is that of the real model; the pictures are noise. Per candidate it times
the text encoder's pass, one denoising step (with classifier-free guidance where the recipe uses
it) and the VAE decode, then estimates the whole clip as text + steps x step + decode.

A part whose fp32 weights would not fit the memory bound (`--max-part-gb`, default 8) is built with
two of its identical blocks and timed block by block (forward hooks); its time is the rest of the
model plus the mean block times the real block count. Its weights and the candidate's RAM are
counted on the meta device (accelerate's `init_empty_weights`), never allocated. A candidate whose
fp32 weights exceed `--max-ram-gb` (default 16) is reported as not fitting a small machine: the
worker runs fp32 on a CPU (`worker.backends.common.resolve_device`) and keeps every part loaded.

Each candidate runs in a child process of its own, so its peak RSS is its own.

    .venv/bin/python bench/cpu_models.py                  # all candidates
    .venv/bin/python bench/cpu_models.py --only animatediff --threads 2
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

GB = 1e9


@dataclass(frozen=True)
class Part:
    """One model of a pipeline: how to build it (with `layers` blocks, None: all), where its
    repeated blocks are, and one call as the pipeline makes it."""

    name: str
    build: Callable[[int | None], Any]
    run: Callable[[Any], Any]
    blocks: Callable[[Any], Any]  # the ModuleList of identical blocks
    full_layers: int
    per_clip: str  # "once" or "step"
    warm: bool = False  # time a second call (a step repeats in a warm worker)


@dataclass(frozen=True)
class Candidate:
    name: str
    family: str  # the reelbot family that would load it (core.models)
    setting: str  # what is rendered: size, frames, steps, guidance
    steps: int
    note: str
    parts: Callable[[], list[Part]]
    steps_alt: tuple[tuple[str, int], ...] = ()  # other step counts worth an estimate


# -- text encoders -------------------------------------------------------------------------


def clip_text_l14() -> Part:
    """SD 1.5's text encoder: CLIP ViT-L/14's text tower (openai/clip-vit-large-patch14)."""
    import torch
    from transformers import CLIPTextConfig, CLIPTextModel

    def build(layers: int | None) -> Any:
        return CLIPTextModel(
            CLIPTextConfig(
                vocab_size=49408,
                hidden_size=768,
                intermediate_size=3072,
                num_hidden_layers=layers or 12,
                num_attention_heads=12,
                max_position_embeddings=77,
                hidden_act="quick_gelu",
            )
        )

    ids = torch.randint(0, 49407, (2, 77))  # the prompt and the negative prompt
    return Part(
        "text encoder (CLIP L/14, 2 x 77 tokens)",
        build,
        lambda m: m(ids),
        lambda m: m.text_model.encoder.layers,
        12,
        "once",
    )


def t5_xxl(tokens: int, batch: int, vocab: int, umt5: bool) -> Part:
    """T5 v1.1 XXL's encoder (LTX-Video) or UMT5-XXL's (Wan): 24 blocks of d_model 4096,
    d_ff 10240 gated-GELU, 64 heads. Timed with a T5 vocabulary (the lookup costs nothing; the
    parameter count uses the real one)."""
    import torch
    from transformers import T5Config, T5EncoderModel, UMT5Config, UMT5EncoderModel

    config_cls, model_cls = (UMT5Config, UMT5EncoderModel) if umt5 else (T5Config, T5EncoderModel)

    def build(layers: int | None) -> Any:
        return model_cls(
            config_cls(
                vocab_size=vocab if layers is None else 32128,
                d_model=4096,
                d_kv=64,
                d_ff=10240,
                num_layers=layers or 24,
                num_heads=64,
                feed_forward_proj="gated-gelu",
                is_encoder_decoder=False,
                use_cache=False,
            )
        )

    ids = torch.randint(0, 32000, (batch, tokens))
    mask = torch.ones(batch, tokens, dtype=torch.long)
    label = f"text encoder ({'UMT5' if umt5 else 'T5'}-XXL, {batch} x {tokens} tokens)"
    return Part(
        label, build, lambda m: m(ids, attention_mask=mask), lambda m: m.encoder.block, 24, "once"
    )


# -- candidates ----------------------------------------------------------------------------


def animatediff(width: int, height: int, frames: int) -> Callable[[], list[Part]]:
    """SD 1.5 (emilianJR/epiCRealism is an SD 1.5 fine-tune) with guoyww's motion adapter v1-5-2
    (MotionAdapter's defaults are that config: 320/640/1280/1280, 2 motion layers per block, a
    motion mid block, 8 heads, 32 positions), merged as AnimateDiffPipeline merges it."""

    def parts() -> list[Part]:
        import torch
        from diffusers import AutoencoderKL, UNetMotionModel

        lat_h, lat_w = height // 8, width // 8

        def unet(layers: int | None) -> Any:
            return UNetMotionModel(cross_attention_dim=768, sample_size=64)

        sample = torch.randn(2, 4, frames, lat_h, lat_w)  # CFG: prompt and negative together
        # AnimateDiffPipeline repeats the prompt's embeddings once per frame
        text = torch.randn(2, 77, 768).repeat_interleave(frames, dim=0)
        t = torch.tensor([500])

        def vae(layers: int | None) -> Any:
            kind = ("DownEncoderBlock2D",) * 4, ("UpDecoderBlock2D",) * 4
            return AutoencoderKL(
                block_out_channels=(128, 256, 512, 512),
                layers_per_block=2,
                latent_channels=4,
                down_block_types=kind[0],
                up_block_types=kind[1],
                sample_size=512,
            )

        latents = torch.randn(frames, 4, lat_h, lat_w)

        def decode(m: Any) -> Any:
            m.enable_slicing()  # as worker.backends.animatediff.save_memory does
            return m.decode(latents).sample

        return [
            clip_text_l14(),
            Part(
                f"denoiser step (UNet + motion modules, 2 x {frames} frames)",
                unet,
                lambda m: m(sample, t, encoder_hidden_states=text),
                lambda m: m.down_blocks,
                0,
                "step",
                warm=True,
            ),
            Part(
                f"VAE decode ({frames} frames)",
                vae,
                decode,
                lambda m: m.decoder.up_blocks,
                0,
                "once",
            ),
        ]

    return parts


def ltx_2b(width: int, height: int, frames: int) -> Callable[[], list[Part]]:
    """LTX-Video 2B distilled (0.9.6 to 0.9.8): LTXVideoTransformer3DModel's defaults are the 2B
    (28 blocks, 32 x 64 heads, caption 4096); the 0.9.5+ VAE (5-stage encoder, timestep-
    conditioned decoder, 32x spatial and 8x temporal compression) as diffusers'
    scripts/convert_ltx_to_diffusers.py configures it. Distilled: 8 steps, guidance 1 (no CFG)."""

    def parts() -> list[Part]:
        import torch
        from diffusers import AutoencoderKLLTXVideo, LTXVideoTransformer3DModel

        lat_f, lat_h, lat_w = (frames - 1) // 8 + 1, height // 32, width // 32

        def transformer(layers: int | None) -> Any:
            return LTXVideoTransformer3DModel(num_layers=layers or 28)

        hidden = torch.randn(1, lat_f * lat_h * lat_w, 128)
        text = torch.randn(1, 128, 4096)
        mask = torch.ones(1, 128)

        def step(m: Any) -> Any:
            return m(
                hidden,
                text,
                torch.tensor([900.0]),
                mask,
                num_frames=lat_f,
                height=lat_h,
                width=lat_w,
                rope_interpolation_scale=(8 / 24, 32, 32),
            )

        def vae(layers: int | None) -> Any:
            return AutoencoderKLLTXVideo(
                block_out_channels=(128, 256, 512, 1024, 2048),
                down_block_types=("LTXVideo095DownBlock3D",) * 4,
                decoder_block_out_channels=(256, 512, 1024),
                layers_per_block=(4, 6, 6, 2, 2),
                decoder_layers_per_block=(5, 5, 5, 5),
                spatio_temporal_scaling=(True, True, True, True),
                decoder_spatio_temporal_scaling=(True, True, True),
                decoder_inject_noise=(False, False, False, False),
                downsample_type=("spatial", "temporal", "spatiotemporal", "spatiotemporal"),
                upsample_residual=(True, True, True),
                upsample_factor=(2, 2, 2),
                timestep_conditioning=True,
            )

        latents = torch.randn(1, 128, lat_f, lat_h, lat_w)
        return [
            t5_xxl(128, 1, 32128, umt5=False),
            Part(
                f"denoiser step (2B transformer, {hidden.shape[1]} tokens)",
                transformer,
                step,
                lambda m: m.transformer_blocks,
                28,
                "step",
                warm=True,
            ),
            Part(
                f"VAE decode ({frames} frames)",
                vae,
                lambda m: m.decode(latents, torch.tensor([0.05])).sample,
                lambda m: m.decoder.up_blocks,
                0,
                "once",
            ),
        ]

    return parts


def wan_1_3b(width: int, height: int, frames: int) -> Callable[[], list[Part]]:
    """Wan 2.1 T2V 1.3B: 30 blocks of 12 x 128 heads, FFN 8960 (diffusers'
    scripts/convert_wan_to_diffusers.py), UMT5-XXL text (512 tokens), the Wan 2.1 VAE
    (AutoencoderKLWan's defaults). 50 steps with CFG (two transformer calls per step)."""

    def parts() -> list[Part]:
        import torch
        from diffusers import AutoencoderKLWan, WanTransformer3DModel

        lat_f, lat_h, lat_w = (frames - 1) // 4 + 1, height // 8, width // 8

        def transformer(layers: int | None) -> Any:
            return WanTransformer3DModel(
                patch_size=(1, 2, 2),
                num_attention_heads=12,
                attention_head_dim=128,
                in_channels=16,
                out_channels=16,
                text_dim=4096,
                freq_dim=256,
                ffn_dim=8960,
                num_layers=layers or 30,
                cross_attn_norm=True,
                qk_norm="rms_norm_across_heads",
                eps=1e-6,
            )

        sample = torch.randn(1, 16, lat_f, lat_h, lat_w)
        text = torch.randn(1, 512, 4096)
        t = torch.tensor([900])

        def step(m: Any) -> Any:  # the prompt's call and the negative's, as WanPipeline makes
            m(sample, t, text)
            return m(sample, t, text)

        latents = torch.randn(1, 16, lat_f, lat_h, lat_w)
        tokens = lat_f * (lat_h // 2) * (lat_w // 2)
        return [
            t5_xxl(512, 2, 256384, umt5=True),
            Part(
                f"denoiser step (1.3B transformer, 2 x {tokens} tokens)",
                transformer,
                step,
                lambda m: m.blocks,
                30,
                "step",
                warm=True,
            ),
            Part(
                f"VAE decode ({frames} frames)",
                lambda layers: AutoencoderKLWan(),
                lambda m: m.decode(latents).sample,
                lambda m: m.decoder.up_blocks,
                0,
                "once",
            ),
        ]

    return parts


CANDIDATES: dict[str, Candidate] = {
    "animatediff": Candidate(
        "animatediff",
        "animatediff",
        "256x256, 16 frames (2 s at 8 fps), CFG",
        10,
        "the registry's animatediff family (epiCRealism + motion adapter v1-5-2) on its fast "
        "tier's 10 DDIM steps; AnimateLCM's LoRA would do it in 4-6",
        animatediff(256, 256, 16),
        steps_alt=(("AnimateLCM, 6 steps", 6), ("full schedule, 25 steps", 25)),
    ),
    "ltx-2b": Candidate(
        "ltx-2b",
        "ltx",
        "384x256, 25 frames (1 s at 24 fps), no CFG",
        8,
        "LTX-Video 2B distilled (0.9.6-0.9.8), 8 steps; the ltx family's default is the 13B",
        ltx_2b(384, 256, 25),
    ),
    "wan-1.3b": Candidate(
        "wan-1.3b",
        "wan",
        "320x192, 17 frames (1 s at 16 fps), CFG",
        50,
        "Wan 2.1 T2V 1.3B, 50 steps; the wan family's default is Wan 2.2 TI2V-5B",
        wan_1_3b(320, 192, 17),
        steps_alt=(("a 4-step distillation, no CFG", 2),),  # 4 single calls = 2 CFG steps
    ),
}


# -- measuring -----------------------------------------------------------------------------


def rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / GB  # KiB on Linux


def meta_params(part: Part) -> int:
    from accelerate import init_empty_weights

    with init_empty_weights():
        model = part.build(None)
    return int(sum(p.numel() for p in model.parameters()))


def timed(part: Part, model: Any) -> float:
    import torch

    with torch.inference_mode():
        if part.warm:
            part.run(model)
        started = time.perf_counter()
        part.run(model)
    return time.perf_counter() - started


def time_by_blocks(part: Part, layers: int = 2) -> float:
    """The part with `layers` real blocks, each timed; the rest plus mean block x real count."""
    import torch

    with torch.device("cpu"):
        model = part.build(layers).eval()
    spent: list[float] = []
    starts: dict[int, float] = {}
    for i, block in enumerate(part.blocks(model)):
        block.register_forward_pre_hook(
            lambda m, a, i=i: starts.__setitem__(i, time.perf_counter())
        )
        block.register_forward_hook(
            lambda m, a, o, i=i: spent.append(time.perf_counter() - starts[i])
        )
    total = timed(part, model)
    calls = len(spent) // (2 if part.warm else 1)
    last = spent[-calls:]  # the timed call's blocks
    per_block = sum(last) / len(last)
    blocks_per_call = layers
    rounds = calls // blocks_per_call  # a step may call the model twice (CFG)
    return total - sum(last) + per_block * part.full_layers * rounds


def measure(name: str, threads: int, max_part_gb: float, max_ram_gb: float) -> dict[str, Any]:
    """Runs in the child: one candidate, every part, freed after it is timed."""
    import gc

    import torch

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    candidate = CANDIDATES[name]
    rows = []
    weights_gb = 0.0
    for part in candidate.parts():
        params = meta_params(part)
        gb = params * 4 / GB
        weights_gb += gb
        if gb > max_part_gb and part.full_layers:
            seconds = time_by_blocks(part)
            how = f"scaled from 2 of {part.full_layers} blocks"
        else:
            model = part.build(None).eval()
            seconds = timed(part, model)
            how = "whole model"
            del model
        gc.collect()
        rows.append(
            {
                "part": part.name,
                "params": params,
                "fp32_gb": gb,
                "s": seconds,
                "how": how,
                "per_clip": part.per_clip,
            }
        )
    return {
        "name": name,
        "rows": rows,
        "weights_gb": weights_gb,
        "peak_rss_gb": rss_gb(),
        "fits": weights_gb <= max_ram_gb,
    }


def clip_seconds(rows: list[dict[str, Any]], steps: int) -> float:
    return sum(r["s"] * (steps if r["per_clip"] == "step" else 1) for r in rows)


def report(result: dict[str, Any], candidate: Candidate, threads: int, max_ram_gb: float) -> None:
    print(f"\n== {candidate.name} ({candidate.family} family): {candidate.setting}")
    print(f"   {candidate.note}")
    for r in result["rows"]:
        each = " per step" if r["per_clip"] == "step" else ""
        print(
            f"   {r['part']:<52} {r['params'] / 1e6:8.0f}M  {r['fp32_gb']:5.2f} GB fp32  "
            f"{r['s']:7.1f} s{each}  ({r['how']})"
        )
    rows = result["rows"]
    total = clip_seconds(rows, candidate.steps)
    print(
        f"   weights {result['weights_gb']:.1f} GB fp32 (all loaded at once, as a worker keeps "
        f"them); peak RSS of this run {result['peak_rss_gb']:.1f} GB"
    )
    print(f"   whole clip, {candidate.steps} steps: {total / 60:.1f} min on {threads} threads")
    for label, steps in candidate.steps_alt:
        print(f"   whole clip, {label}: {clip_seconds(rows, steps) / 60:.1f} min")
    if not result["fits"]:
        print(
            f"   does NOT fit a {max_ram_gb:g} GB machine in fp32 (the worker's CPU precision): "
            "not a CPU candidate as reelbot loads it"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=",".join(CANDIDATES), help="comma-separated names")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--max-part-gb", type=float, default=8.0)
    parser.add_argument("--max-ram-gb", type=float, default=16.0)
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.child, args.threads, args.max_part_gb, args.max_ram_gb)))
        return 0
    import platform

    print(
        f"cpu: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"{args.threads} threads; fp32; random weights, real sizes"
    )
    for name in args.only.split(","):
        candidate = CANDIDATES[name]
        started = time.perf_counter()
        child = subprocess.run(
            [
                sys.executable,
                __file__,
                "--child",
                name,
                "--threads",
                str(args.threads),
                "--max-part-gb",
                str(args.max_part_gb),
                "--max-ram-gb",
                str(args.max_ram_gb),
            ],
            capture_output=True,
            text=True,
        )
        if child.returncode != 0:
            print(f"\n== {name}: failed\n{child.stderr[-2000:]}")
            continue
        result = json.loads(child.stdout.strip().splitlines()[-1])
        report(result, candidate, args.threads, args.max_ram_gb)
        print(f"   (measured in {time.perf_counter() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
