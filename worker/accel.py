"""Speed for a warm diffusers video pipeline on a CUDA GPU; on any other device, nothing changes.

`optimize_pipeline(pipe, device=...)` is called once by a backend's `load()`, after the pipeline
is placed. On CUDA it:

1. casts the transformer, the VAE and the text encoder to bf16 (a no-op for weights loaded so);
2. picks the fastest attention kernel the GPU and the installed packages offer
   (`choose_attention_backends`, a pure function): flash-attn 3 on Hopper, flash-attn 2, then
   PyTorch's own cuDNN or flash kernels. Mask-free self-attention and masked cross-attention are
   chosen separately, since the flash kernels take no mask. Never a `*_hub` backend: the worker
   downloads no kernels;
3. compiles the transformer's repeated blocks (`compile_repeated_blocks(fullgraph=True)`,
   regional compilation: one block's graph, reused by every layer) and, likewise, the VAE's
   resnet blocks; `torch.backends.cudnn.benchmark` is switched on for the VAE's 3D convolutions
   (process-wide; a worker process does nothing else);
4. tiles the VAE decode only when the largest clip (`max_clip`) would not fit in the free GPU
   memory (`needs_vae_tiling`), and otherwise switches tiling off: it costs time and seams;
5. applies a cache hook (`cache="first-block"`, …) only when asked: caches trade quality for
   speed, so they are a per-tier setting, off by default.

Nothing here changes a visible quality setting: steps, size, guidance, scheduler and seed stay as
the spec says, and classifier-free guidance is already batched by diffusers' LTX pipelines (the
negative and positive prompts run as one batch of 2). Compilation happens on the first call, so
the worker should render one warm-up clip (`warm_up`) before taking jobs.

`bench/render.py` measures all of this against a plain diffusers call (`--tiny` on a CPU).
"""

from __future__ import annotations

import importlib.util
import logging
import time
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)

# (frames, height, width) of LTX-Video's default clip; the VAE-tiling check sizes for it unless
# the backend names a larger one.
DEFAULT_CLIP = (121, 512, 768)

# GPU bytes the untiled LTX VAE decode (bf16) needs per output pixel-frame. Its largest
# activation is 8.5 elements per output pixel-frame (the last upsampler's input, counted on the
# 0.9.5 VAE); this allows for about ten such tensors alive at once plus cuDNN workspaces. An
# estimate, not yet a measured GPU peak: bench/render.py prints the measured one.
VAE_DECODE_BYTES_PER_PIXEL = 160

CACHE_NAMES = ("off", "first-block", "taylorseer", "pab", "mag")

_VAE_BLOCKS = ("LTXVideoResnetBlock3d",)

# Packages whose kernels diffusers can dispatch to, by import name.
_FLASH_3 = "flash_attn_interface"
_FLASH_2 = "flash_attn"
_SAGE = "sageattention"


@dataclass(frozen=True)
class AttentionCaps:
    """What the attention choice depends on; `detect_attention_caps` reads it off the machine."""

    device: str  # "cuda", "cpu", "mps", ...
    compute_capability: tuple[int, int] | None = None
    packages: frozenset[str] = frozenset()  # importable kernel packages, by import name
    cudnn_attention: bool = False  # PyTorch's cuDNN SDPA is usable (cuDNN >= 9)


@dataclass(frozen=True)
class AttentionChoice:
    """Backend names for `AttentionBackendName`; None keeps diffusers' default (native SDPA)."""

    self_attention: str | None  # never given a mask
    masked: str | None  # cross-attention, with the prompt's padding mask


def choose_attention_backends(caps: AttentionCaps) -> AttentionChoice:
    """The fastest exact kernel first; a quantised one (sage) only when no exact one is faster."""
    if caps.device != "cuda" or caps.compute_capability is None:
        return AttentionChoice(None, None)
    cc = caps.compute_capability
    # The masked (cross-attention) call is 128 text tokens wide: a few per cent of the work.
    # cuDNN takes an additive mask; the flash kernels take none.
    masked = "_native_cudnn" if caps.cudnn_attention and cc >= (9, 0) else None
    if (9, 0) <= cc < (10, 0) and _FLASH_3 in caps.packages:
        return AttentionChoice("_flash_3", masked)
    if cc >= (8, 0) and _FLASH_2 in caps.packages:
        return AttentionChoice("flash", masked)
    if cc >= (9, 0) and caps.cudnn_attention:
        return AttentionChoice("_native_cudnn", masked)
    if cc >= (8, 0) and _SAGE in caps.packages:
        return AttentionChoice("sage", masked)
    if cc >= (8, 0):
        return AttentionChoice("_native_flash", masked)
    return AttentionChoice(None, None)


def detect_attention_caps(device: str) -> AttentionCaps:
    import torch

    if not device.startswith("cuda") or not torch.cuda.is_available():
        return AttentionCaps(device=device.split(":")[0])
    packages = frozenset(p for p in (_FLASH_3, _FLASH_2, _SAGE) if importlib.util.find_spec(p))
    cudnn_version = torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None
    return AttentionCaps(
        device="cuda",
        compute_capability=torch.cuda.get_device_capability(torch.device(device)),
        packages=packages,
        cudnn_attention=bool(cudnn_version and cudnn_version >= 90000),
    )


def needs_vae_tiling(
    num_frames: int,
    height: int,
    width: int,
    free_bytes: int,
    bytes_per_pixel: int = VAE_DECODE_BYTES_PER_PIXEL,
) -> bool:
    """True when an untiled decode of this clip would not fit in `free_bytes`."""
    return num_frames * height * width * bytes_per_pixel > free_bytes


def cache_config(
    name: str, *, pipe: Any, num_inference_steps: int = 8, mag_ratios: Any = None
) -> Any:
    """The diffusers cache config for a tier's `cache` setting (None for "off").

    The presets are for few-step (distilled) schedules: with 8 steps there is little to reuse.
    """
    from diffusers import (
        FirstBlockCacheConfig,
        MagCacheConfig,
        PyramidAttentionBroadcastConfig,
        TaylorSeerCacheConfig,
    )

    if name == "off":
        return None
    if name == "first-block":
        return FirstBlockCacheConfig(threshold=0.05)
    if name == "taylorseer":
        # The default patterns (`...attn`, full match) miss LTX's `attn1`/`attn2`: predict whole
        # blocks' outputs instead, which skips their compute on predicted steps.
        return TaylorSeerCacheConfig(
            cache_interval=2,
            disable_cache_before_step=2,
            max_order=1,
            cache_identifiers=[r"transformer_blocks\.\d+"],
        )
    if name == "pab":
        return PyramidAttentionBroadcastConfig(
            spatial_attention_block_skip_range=2,
            spatial_attention_timestep_skip_range=(100, 800),
            current_timestep_callback=lambda: pipe.current_timestep,
        )
    if name == "mag":
        if mag_ratios is None:
            raise ValueError(
                "cache='mag' needs mag_ratios calibrated for this checkpoint "
                "(MagCacheConfig(calibrate=True) prints them)"
            )
        return MagCacheConfig(num_inference_steps=num_inference_steps, mag_ratios=mag_ratios)
    raise ValueError(f"cache={name!r}; known: {', '.join(CACHE_NAMES)}")


@dataclass
class Applied:
    """What `optimize_pipeline` did, for the start-up log line."""

    device: str
    dtype: str = "unchanged"
    attention: AttentionChoice = field(default_factory=lambda: AttentionChoice(None, None))
    compiled: tuple[str, ...] = ()
    vae_tiling: bool = False
    cache: str = "off"
    fp8: bool = False
    seconds: float = 0.0


def set_attention_backends(transformer: Any, choice: AttentionChoice) -> None:
    """Per attention module: `attn1` (self-attention, no mask) gets `choice.self_attention`."""
    from diffusers.models.attention_dispatch import AttentionBackendName

    for name, module in transformer.named_modules():
        processor = getattr(module, "processor", None)
        if processor is None or not hasattr(processor, "_attention_backend"):
            continue
        backend = choice.self_attention if name.endswith("attn1") else choice.masked
        processor._attention_backend = AttentionBackendName(backend) if backend else None


def probe_attention_backend(
    backend: str | None, *, device: str, heads: int, head_dim: int, masked: bool
) -> str | None:
    """`backend` if it runs here and agrees with PyTorch's math kernel on a small call, else None.

    A kernel that a PyTorch or driver build lacks must not take the worker down at its first
    clip: it falls back to diffusers' default attention instead, with a warning.
    """
    if backend is None:
        return None
    import torch
    from diffusers.models.attention_dispatch import AttentionBackendName, dispatch_attention_fn

    gen = torch.Generator(device).manual_seed(0)
    q, k, v = (
        torch.randn(2, n, heads, head_dim, generator=gen, device=device, dtype=torch.bfloat16)
        for n in (256, 128, 128)
    )
    mask = None
    if masked:  # as LTX passes it: additive, (batch, heads, 1, keys), padding at -10000
        mask = torch.zeros(2, heads, 1, 128, device=device, dtype=torch.bfloat16)
        mask[..., 40:] = -10000.0
    try:
        out = dispatch_attention_fn(q, k, v, attn_mask=mask, backend=AttentionBackendName(backend))
        ref = dispatch_attention_fn(
            q.float(),
            k.float(),
            v.float(),
            attn_mask=None if mask is None else mask.float(),
            backend=AttentionBackendName._NATIVE_MATH,
        )
        error = float((out.float() - ref).norm() / ref.norm())
    except Exception as exc:  # any failure means "not this kernel"
        log.warning("attention backend %s unusable here (%s); using the default", backend, exc)
        return None
    if not error < 2e-2:  # also catches NaN
        log.warning("attention backend %s is off by %.1e here; using the default", backend, error)
        return None
    return backend


def compile_regions(
    pipe: Any, *, mode: str | None = None, transformer: bool = True, vae: bool = True
) -> tuple[str, ...]:
    """Regional compilation: the transformer's repeated block and the VAE decoder's resnet block.

    Each is one small graph reused many times, so compiling takes seconds, not minutes, and
    `fullgraph=True` makes a graph break an error instead of a silent slowdown. Compilation runs
    on the first call; the same graphs serve every later clip of that size (a new size
    recompiles once, then dynamic shapes take over).
    """
    compiled: tuple[str, ...] = ()
    if transformer:
        pipe.transformer.compile_repeated_blocks(fullgraph=True, mode=mode)
        compiled += ("transformer blocks",)
    if vae and getattr(pipe, "vae", None) is not None:
        blocks = [sub for sub in pipe.vae.decoder.modules() if type(sub).__name__ in _VAE_BLOCKS]
        for block in blocks:
            block.compile(fullgraph=True, mode=mode)
        if blocks:
            compiled += ("vae resnet blocks",)
    return compiled


def uncompile(module: Any) -> None:
    """Undo `nn.Module.compile` on every submodule (the bench times cache hooks eagerly)."""
    for sub in module.modules():
        sub._compiled_call_impl = None


def optimize_pipeline(
    pipe: Any,
    *,
    device: str,
    compile: bool = True,
    compile_mode: str | None = None,
    attention: str = "auto",
    cache: str = "off",
    fp8: bool = False,
    max_clip: tuple[int, int, int] = DEFAULT_CLIP,
) -> Applied:
    """Make `pipe` (already on `device`) fast in place; on a non-CUDA device change nothing.

    `attention` is "auto", "default" (diffusers' native SDPA) or an `AttentionBackendName`
    value for every attention module. `cache` is one of `CACHE_NAMES`: off by default, since
    a cache changes the output. `fp8` quantises the transformer's linear layers with torchao
    (dynamic float8 activations and weights; Hopper or newer), which changes the output too.
    `max_clip` is (frames, height, width) of the largest clip the backend will decode.
    """
    import torch

    started = time.perf_counter()
    applied = Applied(device=device)
    if cache not in CACHE_NAMES:
        raise ValueError(f"cache={cache!r}; known: {', '.join(CACHE_NAMES)}")
    if not device.startswith("cuda"):
        if cache != "off":
            pipe.transformer.enable_cache(cache_config(cache, pipe=pipe))
            applied.cache = cache
        log.info("optimize_pipeline: %s is no CUDA device; pipeline left as it is", device)
        return applied

    for name in ("transformer", "vae", "text_encoder"):
        module = getattr(pipe, name, None)
        if module is not None and module.dtype != torch.bfloat16:
            module.to(dtype=torch.bfloat16)
    applied.dtype = "bfloat16"

    if attention == "auto":
        wanted = choose_attention_backends(detect_attention_caps(device))
    elif attention == "default":
        wanted = AttentionChoice(None, None)
    else:
        wanted = AttentionChoice(attention, attention)
    config = pipe.transformer.config
    shape = {"device": device, "heads": config.num_attention_heads}
    shape["head_dim"] = config.attention_head_dim
    applied.attention = AttentionChoice(
        probe_attention_backend(wanted.self_attention, masked=False, **shape),
        probe_attention_backend(wanted.masked, masked=True, **shape),
    )
    set_attention_backends(pipe.transformer, applied.attention)

    if fp8:
        from torchao.quantization import Float8DynamicActivationFloat8WeightConfig, quantize_

        quantize_(pipe.transformer, Float8DynamicActivationFloat8WeightConfig())
        applied.fp8 = True
    if cache != "off":
        pipe.transformer.enable_cache(cache_config(cache, pipe=pipe))
        applied.cache = cache
    if compile:
        torch.backends.cudnn.benchmark = True  # the VAE's 3D convolutions: few, fixed shapes
        # A cache hook's data-dependent skip does not trace with fullgraph=True: with a cache
        # on, the transformer stays eager.
        applied.compiled = compile_regions(pipe, mode=compile_mode, transformer=cache == "off")

    if pipe.vae is not None:  # both ways: a backend's blanket enable_tiling() is undone too
        free, _total = torch.cuda.mem_get_info(torch.device(device))
        applied.vae_tiling = needs_vae_tiling(*max_clip, free_bytes=free)
        if applied.vae_tiling:
            pipe.vae.enable_tiling()
        else:
            pipe.vae.disable_tiling()
    applied.seconds = time.perf_counter() - started
    log.info("optimize_pipeline: %s", applied)
    return applied


def frames_to_uint8(video: Any) -> Any:
    """(1, F, C, H, W) floats in [0, 1] (`output_type="pt"`) to (F, H, W, 3) uint8 numpy.

    Rounds on the GPU and copies a quarter of the bytes; the same numbers as numpy's round.
    """
    import torch

    frames = video[0].permute(0, 2, 3, 1).mul(255.0).round().clamp(0, 255).to(torch.uint8)
    return frames.cpu().numpy()


def warm_up(pipe: Any, *, device: str, height: int, width: int, num_frames: int) -> float:
    """One two-step render at a clip size, so compilation happens before the first job."""
    import torch

    started = time.perf_counter()
    caption = pipe.transformer.config.caption_channels
    dtype = pipe.transformer.dtype
    gen = torch.Generator(device).manual_seed(0)
    embeds = torch.randn(1, 128, caption, generator=gen, device=device, dtype=dtype)
    mask = torch.ones(1, 128, device=device, dtype=torch.long)
    pipe(
        prompt_embeds=embeds,
        prompt_attention_mask=mask,
        negative_prompt_embeds=embeds,
        negative_prompt_attention_mask=mask,
        height=height,
        width=width,
        num_frames=num_frames,
        num_inference_steps=2,
        generator=gen,
        output_type="pt",
    )
    return time.perf_counter() - started
