"""What a first clip costs on a machine without a GPU, per family, where it was measured.

`reelbot up --model` (`cli.up_model`) renders a family's first clip at its plan's size, length and
steps on a CPU, and says what that will cost here before anything starts.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CpuPlan:
    """A first clip a machine without a GPU makes in minutes: its size, length and steps, and
    what it cost where it was measured (`bench/cpu_models.py`: the real-size architecture with
    random weights, fp32 as the worker runs on a CPU)."""

    width: int
    height: int
    seconds: float
    steps: int
    step_s: float  # one denoising step, classifier-free guidance included
    once_s: float  # text encoder pass and VAE decode
    ram_gb: float  # peak resident memory of the render
    cores: int  # where it was measured
    measured: str

    def estimate_s(self, cores: int) -> float:
        """The whole clip on `cores` cores, scaled from where it was measured (roughly)."""
        return (self.steps * self.step_s + self.once_s) * self.cores / max(1, min(cores, 16))


CPU_PLANS: dict[str, CpuPlan] = {
    # 2 s (16 frames) at 256x256, the fast tier's 10 DDIM steps: 64.0 s a step (UNet and motion
    # modules, prompt and negative together), 63.2 s the VAE decode, 0.2 s the text encoder;
    # 6.1 GB of fp32 weights, 6.9 GB peak. LTX-Video 2B and Wan 2.1 1.3B need their T5-XXL /
    # UMT5-XXL text encoders (19.6 / 26.9 GB in fp32) loaded too: over 16 GB before any frame.
    "animatediff": CpuPlan(
        width=256,
        height=256,
        seconds=2.0,
        steps=10,
        step_s=64.0,
        once_s=63.4,
        ram_gb=7.0,
        cores=2,
        measured="bench/cpu_models.py, 2 shared cores of an AMD EPYC, fp32",
    ),
}
