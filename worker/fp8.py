"""FP8 for the fast tier: whether this machine may quantise the transformer, and the copy.

Its own module beside `worker.accel` (attention, compile, caches): FP8 is used only by
`worker.fast`, and only on CUDA devices with FP8 matmuls.
"""

from __future__ import annotations

from typing import Any

from worker.accel import uncompile

# FP8 matmuls (torch._scaled_mm) need Ada (8.9) or Hopper (9.0) and newer.
FP8_MIN_CAPABILITY = (8, 9)


def fp8_refusal(
    *,
    device: str,
    capability: tuple[int, int] | None,
    torchao: bool,
    free_bytes: int = 0,
    transformer_bytes: int = 0,
) -> str | None:
    """None when the fast tier may render with an FP8 copy of the transformer; else why not.

    The copy is made from the full-precision transformer (which hq clips keep using), so the
    whole transformer must fit once more in free memory while it is quantised (then it shrinks
    to about half). Pure: the worker reads the machine, this decides.
    """
    if not device.startswith("cuda") or capability is None:
        return "not a CUDA device"
    if capability < FP8_MIN_CAPABILITY:
        return f"compute capability {capability[0]}.{capability[1]} has no FP8 matmuls (8.9+)"
    if not torchao:
        return "torchao is not installed"
    if free_bytes < transformer_bytes * 1.1:
        return (
            f"{free_bytes / 2**30:.1f} GiB free, the FP8 copy needs "
            f"{transformer_bytes * 1.1 / 2**30:.1f} GiB while it is made"
        )
    return None


def fp8_copy(transformer: Any) -> Any:
    """An eager FP8 copy of `transformer` (torchao: dynamic float8 activations and weights)."""
    import copy

    from torchao.quantization import Float8DynamicActivationFloat8WeightConfig, quantize_

    twin = copy.deepcopy(transformer)
    uncompile(twin)  # eager: the fast tier's cache hook does not trace with fullgraph=True
    quantize_(twin, Float8DynamicActivationFloat8WeightConfig())
    return twin
