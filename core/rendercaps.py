"""What a backend can render (`Capabilities`) and what `-fast` means for it (`FastRecipe`).

The front ends size and check every request with these without importing a backend; each
family's values are in `core.capabilities`, and workers announce theirs (`core.fleet`)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from core.spec import MAX_GUIDANCE, MIN_GUIDANCE, Mode, Quality


class FastRecipe(BaseModel):
    """What `-fast` means for one family: read by the front ends (steps) and the worker (the rest).

    `lora` is `repo_or_folder` or `repo_or_folder::weight_name.safetensors`, loaded with
    diffusers' `load_lora_weights` at the first fast clip; empty: the family has no distillation
    wired, so fast is fewer steps on its own scheduler (`note` says which). `cache` is one of
    `worker.accel.CACHE_NAMES`, applied to the transformer for fast clips only; `fp8` quantises a
    copy of the transformer with torchao where the GPU computes in FP8 (compute capability 8.9+).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    steps: int = Field(gt=0)
    guidance: float | None = Field(
        default=None, description="the backend's guidance for fast clips; None: mapped as for hq"
    )
    lora: str = ""
    lora_scale: float = 1.0
    cache: str = "off"
    fp8: bool = True
    note: str = ""


class Capabilities(BaseModel):
    """What a backend can render; the bot sizes requests with it without importing the backend."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    modes: tuple[Mode, ...] = ("t2v",)
    native_pixels: int = Field(gt=0, description="about width*height the model was trained at")
    size_multiple: int = Field(gt=0, description="width and height must be multiples of this")
    native_fps: int = Field(gt=0)
    default_seconds: float = Field(gt=0)
    max_seconds: float = Field(gt=0)
    default_steps: int = Field(gt=0)
    guidance_range: tuple[float, float] = Field(
        description="the backend's guidance at Pika's 8 and at Pika's 24, mapped linearly"
    )
    native_camera: bool = False
    sound: bool = False
    adds_sound: bool = Field(
        default=False,
        description="the worker adds sound to its silent frames (a text-to-audio model, "
        "worker.sound): -sound, and 🔊 Add sound on any clip",
    )
    references: int = Field(default=0, ge=0, description="`-ref`: reference pictures it takes")
    loop: bool = Field(default=False, description="`-loop`: the last frame meets the first")
    end_frame: bool = Field(default=False, description="/animate's end image: ends on it")
    frame_step: int = Field(default=1, gt=0, description="frame counts are frame_step*k + 1")
    motion: str = Field(default="", description="what -motion drives; empty: nothing")
    vram_gb: float = Field(default=0, ge=0, description="GPU memory the real model needs, bf16")
    fast: FastRecipe | None = Field(default=None, description="`-fast`; None: no fast tier")

    @property
    def all_modes(self) -> tuple[Mode, ...]:
        """Every mode a request may ask of the family: what it renders, Add sound, and stories
        (shots chained by image-to-video: `worker.story`)."""
        story: tuple[Mode, ...] = ("story",) if {"t2v", "i2v"} <= set(self.modes) else ()
        return (*self.modes, *(("sound",) if self.adds_sound else ()), *story)

    @property
    def frames(self) -> bool:
        """/frames: keyframes at any frame index (mode "frames")."""
        return "frames" in self.modes

    @property
    def makes_sound(self) -> bool:
        """`-sound` is possible: the family's own joint audio, or the worker's added sound."""
        return self.sound or self.adds_sound

    def steps_for(self, quality: Quality) -> int:
        """Denoising steps a clip of `quality` runs: the fast recipe's, or the full schedule."""
        if quality == "fast" and self.fast is not None:
            return self.fast.steps
        return self.default_steps

    def guidance_for(self, quality: Quality, pika_scale: float) -> float:
        """The backend's guidance: the fast recipe's where it fixes one (CFG-distilled)."""
        if quality == "fast" and self.fast is not None and self.fast.guidance is not None:
            return self.fast.guidance
        return self.backend_guidance(pika_scale)

    def snap_size(self, aspect_w: int, aspect_h: int) -> tuple[int, int]:
        """Width and height with the given ratio, about `native_pixels` in area, on the grid."""
        ratio = aspect_w / aspect_h
        height = (self.native_pixels / ratio) ** 0.5
        width = height * ratio
        m = self.size_multiple
        return max(m, round(width / m) * m), max(m, round(height / m) * m)

    def backend_guidance(self, pika_scale: float) -> float:
        lo, hi = self.guidance_range
        t = (pika_scale - MIN_GUIDANCE) / (MAX_GUIDANCE - MIN_GUIDANCE)
        return lo + t * (hi - lo)
