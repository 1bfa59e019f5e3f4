"""The tiny backend with faults a prompt asks for, for the fault-injection suite.

Workers load it by dotted path (`REELBOT_BACKEND=tests.faults.backends`), the extension point
operators use for their own backends, so production code carries no test flag. Every other
prompt renders exactly as `tiny` does, which is how a worker shows it took the next job.

- a prompt containing `OUT_OF_MEMORY` raises torch's `OutOfMemoryError` at the first denoising
  step, as a clip too large for the GPU does;
- a prompt containing `POISON` raises `RuntimeError` at the first step, on every attempt;
- a prompt containing `LONG` renders with 200 denoising steps (about a second of denoising on
  two CPU cores, where /create's 4 take 40 ms), so a worker can be killed at a chosen step.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from core.spec import RenderSpec
from worker.backends import RenderedClip, StepCallback, tiny

OUT_OF_MEMORY = "OUT_OF_MEMORY"
POISON = "POISON"
LONG = "LONG"
LONG_STEPS = 200

# The bot sizes requests with tiny's capabilities, and specs name "tiny": the same model.
CAPABILITIES = tiny.CAPABILITIES


class FaultyBackend:
    """`tiny.TinyBackend`, except for the prompts above."""

    capabilities = CAPABILITIES

    def __init__(self, inner: tiny.TinyBackend) -> None:
        self.inner = inner

    def render(
        self, spec: RenderSpec, on_step: StepCallback, *, inputs: Sequence[Path] = ()
    ) -> RenderedClip:
        if LONG in spec.prompt:
            spec = spec.model_copy(update={"steps": LONG_STEPS})
        fault = fault_for(spec.prompt)
        if fault is None:
            return self.inner.render(spec, on_step, inputs=inputs)

        def failing_step(step: int, total: int) -> None:
            on_step(step, total)
            raise fault

        return self.inner.render(spec, failing_step, inputs=inputs)


def fault_for(prompt: str) -> Exception | None:
    """The error a prompt asks for, raised inside the render thread; None renders normally."""
    if OUT_OF_MEMORY in prompt:
        import torch

        return torch.cuda.OutOfMemoryError(
            "CUDA out of memory. Tried to allocate 20.00 GiB (GPU 0; 79.11 GiB total capacity)"
        )
    if POISON in prompt:
        return RuntimeError("poisoned job: this render fails every time")
    return None


def load(model: str | None = None, device: str = "auto") -> FaultyBackend:
    """The tiny pipeline, built as `tiny.load` builds it."""
    return FaultyBackend(tiny.load(model=model, device=device))
