"""worker.accel: the attention choice (pure), the tiling check, CPU renders unchanged."""

from __future__ import annotations

import numpy as np
import pytest

from worker.accel import (
    AttentionCaps,
    AttentionChoice,
    choose_attention_backends,
    needs_vae_tiling,
)

FA3 = "flash_attn_interface"
FA2 = "flash_attn"
SAGE = "sageattention"

H100 = (9, 0)
A100 = (8, 0)
T4 = (7, 5)
B200 = (10, 0)


@pytest.mark.parametrize(
    ("caps", "expected"),
    [
        (AttentionCaps("cpu"), AttentionChoice(None, None)),
        (AttentionCaps("mps"), AttentionChoice(None, None)),
        (AttentionCaps("cuda", None, frozenset({FA2})), AttentionChoice(None, None)),
        # Hopper: FA3 first, then FA2, then PyTorch's cuDNN kernel; cuDNN takes the masked calls.
        (
            AttentionCaps("cuda", H100, frozenset({FA3, FA2, SAGE}), cudnn_attention=True),
            AttentionChoice("_flash_3", "_native_cudnn"),
        ),
        (
            AttentionCaps("cuda", H100, frozenset({FA2, SAGE}), cudnn_attention=True),
            AttentionChoice("flash", "_native_cudnn"),
        ),
        (
            AttentionCaps("cuda", H100, frozenset({SAGE}), cudnn_attention=True),
            AttentionChoice("_native_cudnn", "_native_cudnn"),
        ),
        (AttentionCaps("cuda", H100), AttentionChoice("_native_flash", None)),
        # FA3 is Hopper-only; Ampere falls to FA2, sage, or PyTorch's flash kernel.
        (
            AttentionCaps("cuda", A100, frozenset({FA3, FA2}), cudnn_attention=True),
            AttentionChoice("flash", None),
        ),
        (AttentionCaps("cuda", A100, frozenset({SAGE})), AttentionChoice("sage", None)),
        (
            AttentionCaps("cuda", A100, cudnn_attention=True),
            AttentionChoice("_native_flash", None),
        ),
        (
            AttentionCaps("cuda", B200, frozenset({FA3}), cudnn_attention=True),
            AttentionChoice("_native_cudnn", "_native_cudnn"),
        ),
        # Pre-Ampere: none of the fast kernels; diffusers' default SDPA.
        (AttentionCaps("cuda", T4, frozenset({FA2, SAGE})), AttentionChoice(None, None)),
    ],
)
def test_attention_choice(caps: AttentionCaps, expected: AttentionChoice) -> None:
    choice = choose_attention_backends(caps)
    assert choice == expected
    for name in (choice.self_attention, choice.masked):
        assert name is None or not name.endswith("_hub")  # the worker downloads no kernels


def test_tiling_only_when_the_clip_does_not_fit() -> None:
    gib = 2**30
    assert not needs_vae_tiling(121, 512, 768, free_bytes=60 * gib)
    assert needs_vae_tiling(121, 512, 768, free_bytes=4 * gib)
    assert needs_vae_tiling(257, 1024, 1536, free_bytes=60 * gib)


def _render(pipe: object, device: str) -> np.ndarray:
    import torch

    out = pipe(  # type: ignore[operator]
        prompt="a cat walking in the snow",
        negative_prompt="blurry",
        height=64,
        width=96,
        num_frames=9,
        num_inference_steps=2,
        generator=torch.Generator(device).manual_seed(7),
        output_type="pt",
    )
    from worker.accel import frames_to_uint8

    return frames_to_uint8(out.frames)


def test_cpu_pipeline_renders_the_same_frames_after_optimize() -> None:
    pytest.importorskip("diffusers")
    from worker.accel import optimize_pipeline
    from worker.backends.tiny import _build_pipeline

    pipe = _build_pipeline()
    before = _render(pipe, "cpu")
    applied = optimize_pipeline(pipe, device="cpu")
    after = _render(pipe, "cpu")
    assert applied.compiled == () and applied.dtype == "unchanged"
    assert before.shape == (9, 64, 96, 3) and before.dtype == np.uint8
    np.testing.assert_array_equal(after, before)


def test_compiled_blocks_render_the_same_frames_on_cpu() -> None:
    """The GPU path's regional compile, fullgraph (no graph break), checked where CI runs."""
    pytest.importorskip("diffusers")
    from worker.accel import compile_regions
    from worker.backends.tiny import _build_pipeline

    pipe = _build_pipeline()
    before = _render(pipe, "cpu")
    assert compile_regions(pipe, vae=False) == ("transformer blocks",)
    after = _render(pipe, "cpu")
    assert np.abs(after.astype(np.int16) - before.astype(np.int16)).max() <= 1


def test_a_kernel_that_cannot_run_falls_back_to_the_default() -> None:
    pytest.importorskip("diffusers")
    from worker.accel import probe_attention_backend

    shape = {"device": "cpu", "heads": 4, "head_dim": 8}
    assert probe_attention_backend(None, masked=False, **shape) is None
    assert probe_attention_backend("_native_math", masked=True, **shape) == "_native_math"
    # PyTorch's flash kernel takes no mask; cuDNN's does not exist on a CPU.
    assert probe_attention_backend("_native_flash", masked=True, **shape) is None
    assert probe_attention_backend("_native_cudnn", masked=False, **shape) is None


@pytest.mark.parametrize("name", ["first-block", "taylorseer", "pab"])
def test_cache_presets_hook_an_ltx_transformer(name: str) -> None:
    pytest.importorskip("diffusers")
    import torch
    from diffusers import LTXVideoTransformer3DModel

    from worker.accel import cache_config
    from worker.backends.tiny import _build_pipeline

    pipe = _build_pipeline()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)  # first-block caching needs two blocks or more
        pipe.transformer = LTXVideoTransformer3DModel(
            in_channels=8,
            out_channels=8,
            num_attention_heads=4,
            attention_head_dim=8,
            cross_attention_dim=32,
            num_layers=3,
            caption_channels=32,
        ).eval()
    pipe.transformer.enable_cache(cache_config(name, pipe=pipe))
    first, second = _render(pipe, "cpu"), _render(pipe, "cpu")
    assert first.shape == (9, 64, 96, 3)
    np.testing.assert_array_equal(first, second)  # the hooks' state resets between clips


def test_mag_cache_needs_calibrated_ratios() -> None:
    pytest.importorskip("diffusers")
    from worker.accel import cache_config

    with pytest.raises(ValueError, match="mag_ratios"):
        cache_config("mag", pipe=None)


def test_gpu_rounding_matches_the_numpy_path() -> None:
    torch = pytest.importorskip("torch")
    from worker.accel import frames_to_uint8

    video = torch.rand(1, 3, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    video[0, 0, 0, 0, :3] = torch.tensor([0.5 / 255, 1.5 / 255, 1.0])  # ties and the top
    expected = np.clip(np.round(video[0].permute(0, 2, 3, 1).numpy() * 255.0), 0, 255)
    np.testing.assert_array_equal(frames_to_uint8(video), expected.astype(np.uint8))


def test_warm_up_renders_from_random_embeddings() -> None:
    pytest.importorskip("diffusers")
    from worker.accel import AttentionCaps, detect_attention_caps, warm_up
    from worker.backends.tiny import _build_pipeline

    assert detect_attention_caps("cpu") == AttentionCaps("cpu")
    assert warm_up(_build_pipeline(), device="cpu", height=64, width=96, num_frames=9) > 0


def test_unknown_cache_is_refused_by_name() -> None:
    pytest.importorskip("diffusers")
    from worker.accel import optimize_pipeline

    with pytest.raises(ValueError, match="cache='fastest'"):
        optimize_pipeline(object(), device="cpu", cache="fastest")


def _has_cuda() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return torch.cuda.is_available()


@pytest.mark.gpu
@pytest.mark.skipif(not _has_cuda(), reason="needs a CUDA GPU")
def test_gpu_optimized_tiny_pipeline_stays_close() -> None:
    from worker.accel import optimize_pipeline
    from worker.backends.tiny import _build_pipeline

    pipe = _build_pipeline().to("cuda")
    before = _render(pipe, "cuda")  # fp32, default attention, eager
    applied = optimize_pipeline(pipe, device="cuda")
    after = _render(pipe, "cuda")  # bf16, chosen kernels, compiled
    assert applied.dtype == "bfloat16" and "transformer blocks" in applied.compiled
    # bf16 through a random network: close, not equal.
    diff = np.abs(after.astype(np.int16) - before.astype(np.int16))
    assert diff.mean() < 8.0, diff.mean()
