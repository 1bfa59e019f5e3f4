"""What switching style LoRAs costs a worker, against the denoising it wraps.

Part 1, the tiny family on this CPU: a default clip's denoising time, then each step of
`worker.styles` on a tiny random LoRA saved as safetensors (`tests.harness.loras`): a cold load
(`load_lora_weights` from disk, as a style's first job), a warm hit (already resident: nothing
loaded), activating it with `set_adapters`, turning every LoRA off after the job
(`disable_lora`), and evicting it (`delete_adapters`). Medians of `--repeat` runs.

Part 2, a real-size LoRA shape: rank 32 on every attention and feed-forward projection of Wan 2.1
T2V-1.3B's transformer (30 blocks, width 1536; the published config), random bf16 tensors with
diffusers' key names, saved as safetensors, loaded into the real-size transformer built with
random weights (bf16 on the CPU when it fits `--max-gb`, else on the meta device, which then
times only the file read and the adapter's construction). Times the cold load, `set_adapters`,
`disable_lora` and `delete_adapters`.

    .venv/bin/python bench/styles.py [--repeat 5] [--max-gb 10]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.capabilities import FAMILIES
from core.flags import parse_request
from core.stylefile import LoraEntry

# Wan 2.1 T2V-1.3B's transformer (Wan-AI/Wan2.1-T2V-1.3B-Diffusers transformer/config.json)
WAN_1_3B = {
    "patch_size": (1, 2, 2),
    "num_attention_heads": 12,
    "attention_head_dim": 128,
    "in_channels": 16,
    "out_channels": 16,
    "text_dim": 4096,
    "freq_dim": 256,
    "ffn_dim": 8960,
    "num_layers": 30,
    "cross_attn_norm": True,
    "qk_norm": "rms_norm_across_heads",
    "eps": 1e-6,
    "rope_max_seq_len": 1024,
}
TARGETS = ("to_q", "to_k", "to_v", "to_out.0", "ffn.net.0.proj", "ffn.net.2")


def timed(run: Callable[[], Any], repeat: int, before: Callable[[], Any] | None = None) -> float:
    """Median seconds of `run` over `repeat` runs (`before` each, untimed)."""
    times = []
    for _ in range(repeat):
        if before is not None:
            before()
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:9.1f} ms"


def tiny_part(repeat: int) -> None:
    import torch

    from tests.harness.loras import save_tiny_lora
    from worker.backends import load_backend
    from worker.styles import activate, load_lora, remove

    torch.set_num_threads(torch.get_num_threads())
    backend: Any = load_backend("tiny", device="cpu")
    pipe = backend.pipe
    spec = parse_request("a fox in the snow", capabilities=FAMILIES["tiny"], seed_source=lambda: 1)
    marks: list[float] = []

    def on_step(step: int, total: int) -> None:
        marks.append(time.perf_counter())

    def render() -> None:
        marks.clear()
        started = time.perf_counter()
        backend.render(spec, on_step)
        marks.insert(0, started)

    render()  # warm-up
    denoise, whole = [], []
    for _ in range(repeat):
        started = time.perf_counter()
        render()
        whole.append(time.perf_counter() - started)
        denoise.append(marks[-1] - marks[0])
    with tempfile.TemporaryDirectory() as folder:
        path = save_tiny_lora(Path(folder), rank=4)
        lora = LoraEntry(lora=str(path))
        size = path.stat().st_size
        cold = timed(
            lambda: load_lora(pipe, "style-x", lora), repeat, lambda: remove(pipe, "style-x")
        )
        set_ = timed(lambda: activate(pipe, {"style-x": 1.0}), repeat)
        unset = timed(pipe.disable_lora, repeat, lambda: activate(pipe, {"style-x": 1.0}))
        warm = timed(lambda: "style-x" in pipe.get_list_adapters()["transformer"], repeat)
        evict = timed(
            lambda: remove(pipe, "style-x"),
            repeat,
            lambda: (remove(pipe, "style-x"), load_lora(pipe, "style-x", lora)),
        )
    d = statistics.median(denoise)
    print(
        f"tiny family, CPU ({torch.get_num_threads()} threads), {spec.width}x{spec.height}, "
        f"{spec.num_frames} frames, {spec.steps} steps; LoRA rank 4, {size / 1e3:.0f} kB"
    )
    print(f"  one render (whole)          {ms(statistics.median(whole))}")
    print(f"  to its last denoising step  {ms(d)}")
    for name, value in (
        ("load cold (from disk)", cold),
        ("load warm (resident: check)", warm),
        ("set_adapters", set_),
        ("unset (disable_lora)", unset),
        ("evict (delete_adapters)", evict),
    ):
        print(f"  {name:<27} {ms(value)}  ({value / d:6.1%} of the denoising)")


def real_part(max_gb: float) -> None:
    import torch
    from diffusers import WanPipeline, WanTransformer3DModel
    from safetensors.torch import save_file

    from worker.styles import activate, load_lora, remove

    with torch.device("meta"):
        shape = WanTransformer3DModel(**WAN_1_3B)
    params = sum(p.numel() for p in shape.parameters())
    bytes_bf16 = params * 2
    tensors: dict[str, torch.Tensor] = {}
    generator = torch.Generator().manual_seed(0)
    for name, module in shape.named_modules():
        if isinstance(module, torch.nn.Linear) and name.endswith(TARGETS) and "blocks." in name:
            a = torch.randn(32, module.in_features, generator=generator) * 0.01
            b = torch.randn(module.out_features, 32, generator=generator) * 0.01
            tensors[f"transformer.{name}.lora_A.weight"] = a.to(torch.bfloat16)
            tensors[f"transformer.{name}.lora_B.weight"] = b.to(torch.bfloat16)
    lora_params = sum(t.numel() for t in tensors.values())
    on_cpu = bytes_bf16 / 1e9 <= max_gb
    where = "CPU, random bf16 weights" if on_cpu else "meta device (over --max-gb)"
    print(
        f"\nWan 2.1 T2V-1.3B transformer, real size ({params / 1e9:.2f} B params, "
        f"{bytes_bf16 / 1e9:.1f} GB bf16), on the {where}"
    )
    print(
        f"  LoRA rank 32 on {len(tensors) // 2} projections: {lora_params / 1e6:.1f} M params, "
        f"{lora_params * 2 / 1e6:.0f} MB bf16 safetensors"
    )
    started = time.perf_counter()
    transformer = WanTransformer3DModel(**WAN_1_3B).to(torch.bfloat16) if on_cpu else shape
    print(f"  (built in {time.perf_counter() - started:.1f} s)")
    pipe: Any = WanPipeline(
        tokenizer=None, text_encoder=None, vae=None, scheduler=None, transformer=transformer
    )
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "wan-rank32.safetensors"
        save_file(tensors, str(path))
        lora = LoraEntry(lora=str(path))
        loads = []
        for _ in range(3):
            remove(pipe, "style-real")
            started = time.perf_counter()
            load_lora(pipe, "style-real", lora)
            loads.append(time.perf_counter() - started)
        set_ = timed(lambda: activate(pipe, {"style-real": 1.0}), 3)
        unset = timed(pipe.disable_lora, 3, lambda: activate(pipe, {"style-real": 1.0}))
        evict = timed(
            lambda: remove(pipe, "style-real"),
            3,
            lambda: (remove(pipe, "style-real"), load_lora(pipe, "style-real", lora)),
        )
    print(
        f"  load cold (from disk)       {ms(statistics.median(loads))}  (runs: "
        + ", ".join(f"{t:.2f} s" for t in loads)
        + ")"
    )
    print(f"  set_adapters                {ms(set_)}")
    print(f"  unset (disable_lora)        {ms(unset)}")
    print(f"  evict (delete_adapters)     {ms(evict)}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--max-gb", type=float, default=10.0)
    parser.add_argument("--skip-real", action="store_true")
    args = parser.parse_args()
    from diffusers.utils import logging as diffusers_logging

    diffusers_logging.set_verbosity_error()
    tiny_part(args.repeat)
    if not args.skip_real:
        real_part(args.max_gb)
    return 0


if __name__ == "__main__":
    sys.exit(main())
