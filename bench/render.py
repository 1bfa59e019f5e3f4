"""Seconds per LTX-Video clip: a plain diffusers call against reelbot's `optimize_pipeline`.

    python -m bench.render            # CUDA: the real-size 2B model, random bf16 weights
    python -m bench.render --tiny     # CPU smoke test on the tiny pipeline (no GPU, seconds)

The real mode builds LTX-Video's 2B transformer (or, with `--model 13b`, the 13B one that
reelbot's ltx backend runs by default) and the 0.9.5+ VAE from configs written here, with random
bf16 weights: speed does not depend on the weights' values, and nothing is downloaded. Text
embeddings are random too (no T5-XXL), so text encoding is outside every number here. Both rows
render the same clip (768x512, 121 frames, 8 steps as the distilled checkpoints use, guidance 1
as they use it: no classifier-free guidance; `--guidance 3` runs it, batched) from one seed:

  a  plain: `pipe.to("cuda")` in bf16, default attention, no compile, `output_type="np"`
  b  reelbot: `optimize_pipeline` (warm: compiled once), `output_type="pt"` + GPU uint8

and prints seconds per clip, the split (denoise / VAE decode / post-processing), peak GPU memory,
model FLOPs utilisation of the denoise phase against the GPU's dense bf16 peak, how far b's frames
are from a's, then cache-hook and fp8 rows, which change the output and so are options only.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from worker.accel import (
    AttentionChoice,
    cache_config,
    frames_to_uint8,
    optimize_pipeline,
    set_attention_backends,
    uncompile,
)

H100_BF16_DENSE = 989e12  # FLOP/s, H100 SXM datasheet, dense

TRANSFORMER_2B = dict(
    in_channels=128,
    out_channels=128,
    patch_size=1,
    patch_size_t=1,
    num_attention_heads=32,
    attention_head_dim=64,
    cross_attention_dim=2048,
    num_layers=28,
    activation_fn="gelu-approximate",
    qk_norm="rms_norm_across_heads",
    norm_elementwise_affine=False,
    norm_eps=1e-6,
    caption_channels=4096,
    attention_bias=True,
    attention_out_bias=True,
)
VAE_095 = dict(
    in_channels=3,
    out_channels=3,
    latent_channels=128,
    down_block_types=("LTXVideo095DownBlock3D",) * 4,
    block_out_channels=(128, 256, 512, 1024, 2048),
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
    patch_size=4,
    patch_size_t=1,
    resnet_norm_eps=1e-6,
    scaling_factor=1.0,
    encoder_causal=True,
    decoder_causal=False,
    spatial_compression_ratio=32,
    temporal_compression_ratio=8,
)


# LTX-Video 0.9.7/0.9.8 13B: the same block, 48 of them at width 4096.
TRANSFORMER_13B = {
    **TRANSFORMER_2B,
    "attention_head_dim": 128,
    "cross_attention_dim": 4096,
    "num_layers": 48,
}


def build_ltx(device: str, model: str = "2b") -> Any:
    import torch
    from diffusers import (
        AutoencoderKLLTXVideo,
        FlowMatchEulerDiscreteScheduler,
        LTXPipeline,
        LTXVideoTransformer3DModel,
    )

    torch.manual_seed(0)
    with torch.device(device):
        config = TRANSFORMER_13B if model == "13b" else TRANSFORMER_2B
        transformer = LTXVideoTransformer3DModel(**config).to(torch.bfloat16).eval()
        vae = AutoencoderKLLTXVideo(**VAE_095).to(torch.bfloat16).eval()
    scheduler = FlowMatchEulerDiscreteScheduler(
        use_dynamic_shifting=True,
        base_shift=0.95,
        max_shift=2.05,
        base_image_seq_len=1024,
        max_image_seq_len=4096,
        shift_terminal=0.1,
    )
    pipe = LTXPipeline(
        scheduler=scheduler, vae=vae, text_encoder=None, tokenizer=None, transformer=transformer
    )
    pipe.set_progress_bar_config(disable=True)
    return pipe


def build_tiny() -> Any:
    from worker.backends.tiny import _build_pipeline

    return _build_pipeline()


def random_embeds(pipe: Any, device: str, seed: int = 1) -> dict[str, Any]:
    """Prompt and negative prompt as T5 would give them: 128 tokens, the rest padding."""
    import torch

    gen = torch.Generator("cpu").manual_seed(seed)
    width = pipe.transformer.config.caption_channels
    dtype = pipe.transformer.dtype
    out: dict[str, Any] = {}
    for prefix, used in (("", 40), ("negative_", 12)):
        embeds = 0.2 * torch.randn(1, 128, width, generator=gen)
        mask = torch.zeros(1, 128, dtype=torch.long)
        mask[:, :used] = 1
        out[f"{prefix}prompt_embeds"] = embeds.to(device, dtype)
        out[f"{prefix}prompt_attention_mask"] = mask.to(device)
    return out


class Phases:
    """Wall-clock split of one call: denoise (start to VAE decode), decode, post-processing."""

    def __init__(self, pipe: Any, sync: Callable[[], None]) -> None:
        self.pipe, self.sync = pipe, sync
        self.decode_inputs: tuple[Any, Any] | None = None
        self.marks: dict[str, float] = {}
        original = pipe.vae.decode

        def decode(latents: Any, temb: Any = None, **kwargs: Any) -> Any:
            self.sync()
            self.marks["decode_start"] = time.perf_counter()
            self.decode_inputs = (latents, temb)
            out = original(latents, temb, **kwargs)
            self.sync()
            self.marks["decode_end"] = time.perf_counter()
            return out

        pipe.vae.decode = decode


def render(pipe: Any, phases: Phases, args: argparse.Namespace, embeds: dict, *, fast: bool):
    """One clip; returns (uint8 frames, {total, denoise, decode, post} seconds)."""
    import torch

    device = args.device
    phases.sync()
    start = time.perf_counter()
    out = pipe(
        **embeds,
        height=args.height,
        width=args.width,
        num_frames=args.frames,
        num_inference_steps=args.steps,
        guidance_scale=args.guidance,
        decode_timestep=0.05,
        decode_noise_scale=0.025,
        generator=torch.Generator(device).manual_seed(args.seed),
        output_type="pt" if fast else "np",
    )
    if fast:
        frames = frames_to_uint8(out.frames)
    else:
        video = np.asarray(out.frames[0])
        frames = np.clip(np.round(video * 255.0), 0, 255).astype(np.uint8)
    phases.sync()
    end = time.perf_counter()
    m = phases.marks
    split = {
        "total": end - start,
        "denoise": m["decode_start"] - start,
        "decode": m["decode_end"] - m["decode_start"],
        "post": end - m["decode_end"],
    }
    return frames, split


def transformer_flops(pipe: Any, args: argparse.Namespace) -> tuple[float, float, int]:
    """FLOPs of the transformer for a whole clip, and the `2*params*tokens` estimate, tokens.

    Linear layers are counted exactly (2*in*out per row each sees: video tokens, or text tokens
    for the cross-attention keys and values); attention as 4*L*N^2*d (self) + 4*L*N*T*d (cross).
    """
    cfg = pipe.transformer.config
    n = (
        ((args.frames - 1) // pipe.vae_temporal_compression_ratio + 1)
        * (args.height // pipe.vae_spatial_compression_ratio)
        * (args.width // pipe.vae_spatial_compression_ratio)
    )
    t, d, layers = 128, cfg.num_attention_heads * cfg.attention_head_dim, cfg.num_layers
    import torch

    linear = 0.0
    for name, module in pipe.transformer.named_modules():
        if not isinstance(module, torch.nn.Linear):
            continue
        rows = t if (name.endswith(("attn2.to_k", "attn2.to_v")) or "caption" in name) else n
        if "time_embed" in name or "adaln" in name:
            rows = 1
        linear += 2.0 * module.in_features * module.out_features * rows
    attention = 4.0 * layers * n * n * d + 4.0 * layers * n * t * d
    passes = (2 if args.guidance > 1.0 else 1) * args.steps
    params = sum(p.numel() for p in pipe.transformer.parameters())
    return (linear + attention) * passes, (2.0 * params * n + attention) * passes, n


def compare(a: np.ndarray, b: np.ndarray) -> str:
    diff = np.abs(a.astype(np.int16) - b.astype(np.int16))
    mse = float(np.mean(diff.astype(np.float64) ** 2))
    psnr = math.inf if mse == 0 else 10 * math.log10(255.0**2 / mse)
    return f"max|d|={int(diff.max())} PSNR={psnr:.1f}dB"


@contextlib.contextmanager
def peak_memory(device: str, out: dict) -> Iterator[None]:
    import torch

    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    yield
    if device == "cuda":
        out["peak_gib"] = torch.cuda.max_memory_allocated() / 2**30


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="tiny CPU pipeline, no GPU")
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--frames", type=int, default=None)
    parser.add_argument("--height", type=int, default=None)
    parser.add_argument("--width", type=int, default=None)
    parser.add_argument("--model", choices=("2b", "13b"), default="2b")
    parser.add_argument("--guidance", type=float, default=1.0, help=">1 runs CFG (batched)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--compile-mode", default=None)
    parser.add_argument("--budget-s", type=float, default=480.0, help="skip extras past this")
    parser.add_argument("--rows", default="a,b,micro,cache,fp8", help="which rows to run")
    parser.add_argument("--out", type=Path, default=None, help="also write the table here")
    args = parser.parse_args()
    import torch

    clock0 = time.perf_counter()
    args.device = "cpu" if args.tiny else "cuda"
    if args.tiny:
        args.frames, args.height, args.width = (
            args.frames or 17,
            args.height or 288,
            args.width or 512,
        )
    else:
        if not torch.cuda.is_available():
            parser.error("no CUDA GPU here: use --tiny")
        args.frames, args.height, args.width = (
            args.frames or 121,
            args.height or 512,
            args.width or 768,
        )
    wanted = set(args.rows.split(","))
    sync = torch.cuda.synchronize if args.device == "cuda" else (lambda: None)
    lines: list[str] = []
    log_rows: list[dict] = []

    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text("")

    def say(text: str) -> None:
        print(text, flush=True)
        lines.append(text)
        if args.out:  # as it goes, so a run stopped at its time limit still leaves its rows
            with args.out.open("a") as f:
                f.write(text + "\n")

    def over_budget() -> bool:
        return time.perf_counter() - clock0 > args.budget_s

    import diffusers

    gpu = torch.cuda.get_device_name() if args.device == "cuda" else "CPU"
    say(
        f"# bench/render.py  {gpu}  torch {torch.__version__}  diffusers {diffusers.__version__}"
        f"  cudnn {torch.backends.cudnn.version()}"
    )
    if args.device == "cuda":
        x = torch.randn(8192, 8192, device="cuda", dtype=torch.bfloat16)
        for _ in range(3):
            x @ x
        sync()
        t0 = time.perf_counter()
        for _ in range(10):
            x @ x
        sync()
        matmul = 10 * 2 * 8192**3 / (time.perf_counter() - t0)
        del x
        say(f"# measured 8192^3 bf16 matmul: {matmul / 1e12:.0f} TFLOP/s (datasheet peak 989)")

    t0 = time.perf_counter()
    pipe = build_tiny() if args.tiny else build_ltx(args.device, args.model)
    sync()
    build_s = time.perf_counter() - t0
    embeds = random_embeds(pipe, args.device)
    phases = Phases(pipe, sync)
    flops, flops_brief, tokens = transformer_flops(pipe, args)
    passes = "CFG batched: 2" if args.guidance > 1.0 else "no CFG: 1"
    say(
        f"# clip {args.width}x{args.height}x{args.frames}, {args.steps} steps, guidance "
        f"{args.guidance} ({passes} transformer pass(es)/step), {tokens} video tokens; transformer "
        f"{flops / 1e12:.1f} TFLOP/clip exact-linear ({flops_brief / 1e12:.1f} by 2*params*tokens);"
        f" build {build_s:.1f} s"
    )
    peak = H100_BF16_DENSE if args.device == "cuda" else None
    if args.tiny:
        say("# tiny CPU smoke run: shows the bench works; its timings say nothing about a GPU")
    header = (
        f"{'row':<40}{'s/clip':>8}{'denoise':>9}{'decode':>8}{'post':>7}{'peakGiB':>9}"
        f"{'MFU':>6}  notes"
    )
    table: list[str] = [header]

    def add_row(name: str, split: dict, mem: dict, note: str = "") -> None:
        mfu = f"{flops / split['denoise'] / peak:.0%}" if peak else "-"
        row = (
            f"{name:<40}{split['total']:>8.2f}{split['denoise']:>9.2f}{split['decode']:>8.2f}"
            f"{split['post']:>7.2f}{mem.get('peak_gib', 0):>9.1f}{mfu:>6}  {note}"
        )
        table.append(row)
        say(row)
        log_rows.append({"row": name, **split, **mem, "note": note})

    def timed(name: str, *, fast: bool, note: str = "", ref: np.ndarray | None = None):
        splits, frames = [], None
        mem: dict = {}
        with peak_memory(args.device, mem):
            for _ in range(args.repeats):
                frames, split = render(pipe, phases, args, embeds, fast=fast)
                splits.append(split)
        best = {k: float(np.mean([s[k] for s in splits])) for k in splits[0]}
        if ref is not None and frames is not None:
            note = f"{note} vs a: {compare(ref, frames)}".strip()
        add_row(name, best, mem, note)
        return frames, best

    # (a) plain diffusers, warm (one untimed call first: cuDNN/cuBLAS set-up, allocator)
    t0 = time.perf_counter()
    frames_a, _ = render(pipe, phases, args, embeds, fast=False)
    first_a = time.perf_counter() - t0
    frames_a2, split_a = timed("a plain diffusers (warm)", fast=False, note=f"1st {first_a:.1f}s")
    say(f"# a vs a (determinism floor): {compare(frames_a, frames_a2)}")
    latents, temb = phases.decode_inputs  # type: ignore[misc]

    # Eager transformer forward per attention choice, and the VAE decode variants.
    ref_out = None
    fwd_inputs = None
    if "micro" in wanted and args.device == "cuda":
        with torch.no_grad():
            captured: dict = {}

            def grab(module: Any, a: tuple, kw: dict) -> None:
                captured.setdefault("kw", kw)

            handle = pipe.transformer.register_forward_pre_hook(grab, with_kwargs=True)
            pipe(
                **embeds,
                height=args.height,
                width=args.width,
                num_frames=args.frames,
                num_inference_steps=1,
                guidance_scale=args.guidance,
                output_type="latent",
            )
            handle.remove()
            fwd_inputs = captured["kw"]

            def fwd_time() -> tuple[float, Any]:
                out = pipe.transformer(**fwd_inputs)[0]
                sync()
                t0 = time.perf_counter()
                for _ in range(3):
                    out = pipe.transformer(**fwd_inputs)[0]
                sync()
                return (time.perf_counter() - t0) / 3, out

            for label, choice in (
                ("default SDPA", AttentionChoice(None, None)),
                ("self _native_flash", AttentionChoice("_native_flash", None)),
                ("self _native_cudnn", AttentionChoice("_native_cudnn", None)),
                ("self+cross _native_cudnn", AttentionChoice("_native_cudnn", "_native_cudnn")),
                ("self _native_efficient", AttentionChoice("_native_efficient", None)),
            ):
                try:
                    set_attention_backends(pipe.transformer, choice)
                    sec, out = fwd_time()
                    if ref_out is None:
                        ref_out = out.float()
                    rel = float((out.float() - ref_out).norm() / ref_out.norm())
                    say(
                        f"# eager transformer fwd {label:<26} {sec * 1000:7.1f} ms"
                        f"  {flops / args.steps / sec / peak:.0%} MFU  rel.err {rel:.1e}"
                    )
                except Exception as exc:
                    say(
                        f"# eager transformer fwd {label}: FAILED {type(exc).__name__}: {exc}"[:300]
                    )
            set_attention_backends(pipe.transformer, AttentionChoice(None, None))

            def decode_time(label: str, vae_latents: Any, vae_temb: Any) -> None:
                try:
                    torch.cuda.reset_peak_memory_stats()
                    pipe.vae.decode(vae_latents, vae_temb)
                    sync()
                    t0 = time.perf_counter()
                    pipe.vae.decode(vae_latents, vae_temb)
                    sync()
                    sec = time.perf_counter() - t0
                    gib = torch.cuda.max_memory_allocated() / 2**30
                    say(f"# VAE decode {label:<34} {sec:6.3f} s  peak {gib:5.1f} GiB")
                except Exception as exc:
                    say(f"# VAE decode {label}: FAILED {type(exc).__name__}: {exc}"[:300])

            decode_time("bf16 (as a)", latents, temb)
            torch.backends.cudnn.benchmark = True
            decode_time("bf16 + cudnn.benchmark", latents, temb)
            pipe.vae.to(memory_format=torch.channels_last_3d)
            decode_time(
                "bf16 + benchmark + channels_last_3d",
                latents.to(memory_format=torch.channels_last_3d),
                temb,
            )
            pipe.vae.to(memory_format=torch.contiguous_format)
            pipe.vae.to(torch.float32)
            decode_time("fp32 + benchmark (tf32 off)", latents.float(), temb.float())
            pipe.vae.to(torch.bfloat16)
            pipe.vae.enable_tiling()
            decode_time("bf16 + benchmark, tiled (diffusers default tiles)", latents, temb)
            pipe.vae.disable_tiling()
            torch.backends.cudnn.benchmark = False

    # (b) reelbot: optimize_pipeline, cold first call (compiles), then warm.
    if "b" in wanted:
        t0 = time.perf_counter()
        applied = optimize_pipeline(pipe, device=args.device, compile_mode=args.compile_mode)
        try:
            render(pipe, phases, args, embeds, fast=True)
        except Exception:
            say("# b first call FAILED, retrying with attention='default':")
            say("# " + traceback.format_exc().strip().splitlines()[-1][:300])
            uncompile(pipe.transformer)
            uncompile(pipe.vae)
            try:
                applied = optimize_pipeline(
                    pipe, device=args.device, attention="default", compile_mode=args.compile_mode
                )
                render(pipe, phases, args, embeds, fast=True)
            except Exception:
                say("# b FAILED again: " + traceback.format_exc().strip().splitlines()[-1][:300])
                wanted.discard("b")
    if "b" in wanted:
        cold = time.perf_counter() - t0
        say(f"# b applied: {applied}")
        say(f"# b cold start: build {build_s:.1f} s + optimize and first call {cold:.1f} s")
        _frames_b, split_b = timed("b reelbot optimize_pipeline (warm)", fast=True, ref=frames_a2)
        say(
            f"# ratio a/b = {split_a['total'] / split_b['total']:.2f}x per clip, denoise "
            f"{split_a['denoise'] / split_b['denoise']:.2f}x, decode "
            f"{split_a['decode'] / split_b['decode']:.2f}x"
        )
        if fwd_inputs is not None and ref_out is not None:
            with torch.no_grad():
                out = pipe.transformer(**fwd_inputs)[0].float()
            rel = float((out - ref_out).norm() / ref_out.norm())
            say(f"# b transformer fwd vs eager default SDPA: rel.err {rel:.1e}")

    # Options that change the output: cache hooks (eager transformer), fp8.
    if "cache" in wanted:
        uncompile(pipe.transformer)
        for name in ("first-block", "taylorseer", "pab"):
            if over_budget():
                say(f"# cache {name}: skipped (over --budget-s)")
                continue
            if name == "first-block" and len(pipe.transformer.transformer_blocks) < 2:
                say("# cache first-block: skipped (needs two blocks or more; this model has one)")
                continue
            try:
                pipe.transformer.enable_cache(
                    cache_config(name, pipe=pipe, num_inference_steps=args.steps)
                )
                render(pipe, phases, args, embeds, fast=True)
                timed(f"cache {name} (eager transformer)", fast=True, ref=frames_a2)
            except Exception as exc:
                say(f"# cache {name}: FAILED {type(exc).__name__}: {exc}"[:300])
            with contextlib.suppress(Exception):
                pipe.transformer.disable_cache()
        if not over_budget():
            try:
                timed("b with transformer eager (no cache)", fast=True, ref=frames_a2)
            except Exception as exc:
                say(f"# eager b: FAILED {type(exc).__name__}: {exc}"[:300])
    if "fp8" in wanted and args.device == "cuda" and not over_budget():
        try:
            from torchao.quantization import Float8DynamicActivationFloat8WeightConfig, quantize_

            quantize_(pipe.transformer, Float8DynamicActivationFloat8WeightConfig())
            pipe.transformer.compile_repeated_blocks(fullgraph=True, mode=args.compile_mode)
            t0 = time.perf_counter()
            render(pipe, phases, args, embeds, fast=True)
            say(f"# fp8 first call (compile) {time.perf_counter() - t0:.1f} s")
            timed("fp8 torchao + compile (changes output)", fast=True, ref=frames_a2)
        except Exception as exc:
            say(f"# fp8: FAILED {type(exc).__name__}: {exc}"[:300])

    say("")
    say("\n".join(table))
    say(f"# total bench time {time.perf_counter() - clock0:.0f} s")
    if args.out:
        args.out.with_suffix(".jsonl").write_text("".join(json.dumps(r) + "\n" for r in log_rows))
    return 0


if __name__ == "__main__":
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    raise SystemExit(main())
