"""Small helpers the real model families share: checks, tiny tokenizers, placement.

Functions, not a base class: each backend file still reads top to bottom on its own. torch,
diffusers and transformers are imported inside the functions that need them, so importing this
module (and with it a backend's `CAPABILITIES`) needs none of them. A member's video is read
with `worker.media_sandbox.read_clip`: decoded in a bounded child, fitted as it is decoded.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from core.rendercaps import Capabilities
from core.spec import RenderSpec

log = logging.getLogger(__name__)

TINY = "builtin:tiny"
"""The reserved model value: the family's own diffusers classes, tiny and random, built in code."""

# Modes that take exactly one input image, and those that take exactly one input video.
IMAGE_MODES = frozenset({"i2v"})
VIDEO_MODES = frozenset({"v2v", "extend", "upscale"})


def frames_for(duration_s: float, fps: int, step: int, *, minimum: int = 1) -> int:
    """The fewest `step*k + 1` frames whose span, (frames - 1) / fps, covers `duration_s`."""
    k = max(1, math.ceil(duration_s * fps / step - 1e-9))
    return max(minimum, step * k + 1)


def check_spec(caps: Capabilities, spec: RenderSpec, inputs: Sequence[Path]) -> None:
    """Refuse what the backend can't render, naming the argument and its value."""
    name = caps.name
    if spec.mode not in caps.modes:
        raise ValueError(
            f"mode={spec.mode!r} is not supported by the {name} backend "
            f"(it renders {', '.join(caps.modes)})"
        )
    if spec.sound and not caps.sound:
        raise ValueError(f"sound=True is not supported by the {name} backend (it makes no sound)")
    m = caps.size_multiple
    if spec.width % m or spec.height % m:
        raise ValueError(
            f"width={spec.width} and height={spec.height} must both be multiples of {m} "
            f"for the {name} backend"
        )
    if spec.duration_s > caps.max_seconds + 1e-9:
        raise ValueError(
            f"num_frames={spec.num_frames} at fps={spec.fps} is {spec.duration_s:.2f} s; "
            f"the {name} backend renders at most {caps.max_seconds} s"
        )
    if (spec.loop and not caps.loop) or (spec.end_frame and not caps.end_frame):
        what = "loop=True" if spec.loop else "end_frame=True"
        raise ValueError(f"{what} is not supported by the {name} backend")
    if spec.mode == "frames":  # keyframes: one input picture each (worker.backends.frames)
        if len(inputs) != len(spec.input_media) or len(inputs) < 2:
            raise ValueError(f"mode 'frames' takes 2 to 5 input images, got {len(inputs)}")
        return
    wanted = 1 if spec.mode in IMAGE_MODES | VIDEO_MODES else 0
    if len(inputs) != wanted + spec.end_frame:  # an end picture follows the start picture
        kind = "image" if spec.mode in IMAGE_MODES else "video"
        if spec.end_frame:
            raise ValueError(
                f"mode {spec.mode!r} with end_frame takes exactly two input images (start, "
                f"end), got {len(inputs)}"
            )
        if wanted:
            raise ValueError(
                f"mode {spec.mode!r} takes exactly one input {kind}, got {len(inputs)}"
            )
        raise ValueError(f"mode {spec.mode!r} takes no input media, got {len(inputs)}")


def to_uint8(video: Any) -> np.ndarray:
    """(T, H, W, 3) floats in [0, 1] (a pipeline's `output_type="np"`) to uint8 RGB."""
    array = np.asarray(video, dtype=np.float32)
    return np.clip(np.round(array * 255.0), 0, 255).astype(np.uint8)


def resolve_device(device: str) -> tuple[str, Any]:
    """`auto` -> cuda when present; bf16 on CUDA, fp32 on CPU (CPU bf16 kernels are slow)."""
    import torch

    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    dtype = torch.bfloat16 if device.startswith("cuda") else torch.float32
    return device, dtype


def largest_clip(caps: Capabilities) -> tuple[int, int, int]:
    """(frames, height, width) of the largest clip the backend renders: the longest, at the
    widest accepted aspect (all aspects have about the same area), with the camera overscan."""
    from core.spec import MAX_ASPECT
    from worker.camera import render_size

    frames = frames_for(caps.max_seconds, caps.native_fps, caps.frame_step)
    size = caps.snap_size(round(MAX_ASPECT * 10), 10)
    width, height = render_size(*size, caps.size_multiple, "zoom in")
    return frames, height, width


def optimize(pipe: Any, device: str, caps: Capabilities) -> None:
    """The accel hook: `worker.accel.optimize_pipeline` where it exists (a no-op on CPU)."""
    try:
        from worker.accel import optimize_pipeline
    except ImportError:
        return
    optimize_pipeline(pipe, device=device, max_clip=largest_clip(caps))


def step_callback(on_step: Any) -> Any:
    """A diffusers `callback_on_step_end` that reports (step, total) to the worker."""

    def step_end(pipe: Any, i: int, t: Any, tensors: dict[str, Any]) -> dict[str, Any]:
        on_step(i + 1, pipe.num_timesteps)
        return {}

    return step_end


def t5_tokenizer(max_length: int = 128) -> Any:
    """A T5 tokenizer over an in-memory word vocabulary: the tiny backend's, shared."""
    from tokenizers import normalizers
    from transformers import T5Tokenizer

    from worker.backends.tiny import _vocab

    tokenizer = T5Tokenizer(vocab=_vocab(), extra_ids=0, model_max_length=max_length)
    tokenizer.backend_tokenizer.normalizer = normalizers.Sequence(
        [normalizers.NFKC(), normalizers.Lowercase()]
    )
    return tokenizer


def t5_vocab_size() -> int:
    from worker.backends.tiny import _vocab

    return len(_vocab())


def tiny_umt5_encoder() -> Any:
    """Wan's text encoder (UMT5) in miniature, over the tiny vocabulary: the Wan family's tiny
    pipelines share it. Build it inside `seeded_build` where the caller's order wants it."""
    from transformers import UMT5Config, UMT5EncoderModel

    return UMT5EncoderModel(
        UMT5Config(
            vocab_size=t5_vocab_size(),
            d_model=32,
            d_kv=8,
            d_ff=64,
            num_layers=2,
            num_heads=4,
            relative_attention_num_buckets=8,
            dropout_rate=0.0,
            pad_token_id=0,
            eos_token_id=1,
        )
    )


def wan_flow_scheduler() -> Any:
    """The flow-matching UniPC scheduler Wan's pipelines ship with (shift 3.0, 480p's)."""
    from diffusers import UniPCMultistepScheduler

    return UniPCMultistepScheduler(
        prediction_type="flow_prediction", use_flow_sigmas=True, flow_shift=3.0
    )


def clip_tokenizer() -> Any:
    """A CLIP BPE tokenizer from an in-memory byte-level vocabulary (no merges), 77 tokens."""
    from transformers import CLIPTokenizer

    vocab = clip_vocab()
    return CLIPTokenizer(vocab=vocab, merges=[], model_max_length=77)


def clip_vocab() -> dict[str, int]:
    """CLIP's layout: every byte's printable stand-in, alone and word-final, then the specials."""
    from tokenizers.pre_tokenizers import ByteLevel

    chars = sorted(ByteLevel.alphabet())
    pieces = chars + [f"{c}</w>" for c in chars] + ["<|startoftext|>", "<|endoftext|>"]
    return {piece: i for i, piece in enumerate(pieces)}


def seeded_build(seed: int = 0) -> Any:
    """Fork the global RNG and seed it, so building a tiny model leaves the caller's state alone."""
    import torch

    class _Seeded:
        def __enter__(self) -> None:
            self._fork = torch.random.fork_rng(devices=[])
            self._fork.__enter__()
            torch.manual_seed(seed)

        def __exit__(self, *exc: object) -> None:
            self._fork.__exit__(*exc)

    return _Seeded()
