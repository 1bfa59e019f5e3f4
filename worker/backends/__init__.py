"""The small interface every model family implements, and the registry that picks one by name.

Backend modules import torch and diffusers only inside `load()`; what each family can render is
data in `core.capabilities`, which the front ends read without torch.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from core.capabilities import capabilities_for
from core.rendercaps import Capabilities
from core.spec import RenderSpec

# name -> module path; each module defines CAPABILITIES (its `core.capabilities` entry) and
# load(model, device) -> Backend. The names are those of `core.capabilities.FAMILIES`.
BACKENDS: dict[str, str] = {
    "tiny": "worker.backends.tiny",
    "ltx": "worker.backends.ltx",
    "wan": "worker.backends.wan",
    "animatediff": "worker.backends.animatediff",
    "svd": "worker.backends.svd",
    "ltx2": "worker.backends.ltx2",
    "wan_vace": "worker.backends.wan_vace",
}

StepCallback = Callable[[int, int], None]
"""Called after each denoising step with (step, total); it may raise to stop the render."""


@dataclass(frozen=True)
class RenderedClip:
    """Frames as uint8 RGB, shape (frames, height, width, 3), at the backend's native rate.

    `audio` is the sound made with them (backends with `Capabilities.sound`, when the spec asks
    for it): float32 samples in [-1, 1], shape (channels, samples), starting with the first frame,
    at `sample_rate` Hz. None for a silent clip. `mask` (an edit's): bool (frames, height, width),
    True where the clip may differ from its parent; kept as `mask.png`, drawn on the sheet.
    """

    frames: np.ndarray
    fps: float
    audio: np.ndarray | None = None
    sample_rate: int | None = None
    mask: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.audio is not None and not self.sample_rate:
            raise ValueError("a clip with audio needs its sample_rate")


class Backend(Protocol):
    capabilities: Capabilities

    def render(
        self, spec: RenderSpec, on_step: StepCallback, *, inputs: Sequence[Path] = ()
    ) -> RenderedClip:
        """Render deterministically: the same spec on the same machine gives the same frames.

        `inputs` are `spec.input_media` resolved to files by the worker (which owns the media
        store), in the same order; a backend never sees a path a request could have chosen.
        """
        ...


def _module(name: str) -> Any:
    """A built-in family by name, or an operator's own backend by dotted module path
    (`REELBOT_BACKEND=mypkg.backend`), which follows the same contract: CAPABILITIES and load()."""
    if name in BACKENDS:
        return importlib.import_module(BACKENDS[name])
    capabilities_for(name)  # an unknown name is refused as the front ends refuse it
    return importlib.import_module(name)


def load_backend(
    name: str, *, model: str | None = None, device: str = "auto", **auxiliary: str
) -> Backend:
    """Build the pipeline once (weights, device placement); slow, so only at worker start-up.
    `auxiliary` are a built-in family's other repositories by setting (`core.models`)."""
    backend: Backend = _module(name).load(model=model, device=device, **auxiliary)
    return backend
