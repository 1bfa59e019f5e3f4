"""Hidden-message clips (/encrypt_text, /encrypt_image): the mask and the ControlNet that hides it.

The message is drawn white on black at the clip's size in DejaVu Sans, Serif or Sans Mono Bold
(`FONTS`, shipped in `worker/fonts/`: Bitstream Vera licence with DejaVu's changes in the public
domain, free to use and redistribute, see `DejaVu-LICENSE.txt`), centred and as large as fits
`FILL` of the frame;
a member's picture becomes a mask by its own brightness, pushed to black and white. The same
mask is every frame's `conditioning_frames` of diffusers' `AnimateDiffControlNetPipeline`, so
the word stays put while the scene moves and shows when you squint.

The ControlNet is `REELBOT_ILLUSION_CONTROLNET` (default `CONTROLNET`: Monster Labs' QR Code
Monster for SD 1.5, licence openrail++, whose root holds the diffusers layout: config.json and
diffusion_pytorch_model.safetensors; `repo::subfolder` picks a folder inside a repo, as `::v2`
for its second version), read at the first illusion clip, not at start-up, so a worker that
never makes one never loads it. Only safetensors are read (the repo also holds a pickled .bin).
`builtin:tiny` builds a tiny random ControlNet of the tiny UNet's shape in code.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageFont, ImageOps

from core.spec import MAX_ILLUSION_CHARS, IllusionFont, RenderSpec
from worker.images import fit_image

_FOLDER = Path(__file__).parent / "fonts"
FONTS: dict[IllusionFont, Path] = {
    "sans": _FOLDER / "DejaVuSans-Bold.ttf",
    "serif": _FOLDER / "DejaVuSerif-Bold.ttf",
    "mono": _FOLDER / "DejaVuSansMono-Bold.ttf",
}
FILL = 0.8  # the message spans at most this share of the frame's width and height
log = logging.getLogger(__name__)

CONTROLNET = "monster-labs/control_v1p_sd15_qrcode_monster"
CONTROLNET_SETTING = "illusion_controlnet"  # REELBOT_ILLUSION_CONTROLNET


def text_mask(message: str, width: int, height: int, font: IllusionFont = "sans") -> Image.Image:
    """`message` white on black ("L" mode, 0 or 255), centred, as large as fits FILL."""
    text = " ".join(message.split())
    if not text:
        raise ValueError("the message is empty: give a word or a few characters to hide")
    if len(text) > MAX_ILLUSION_CHARS:
        raise ValueError(
            f"the message is {len(text)} characters; at most {MAX_ILLUSION_CHARS} can be hidden"
        )
    mask = Image.new("L", (width, height), 0)
    draw = ImageDraw.Draw(mask)
    face = str(FONTS[font])
    probe = ImageFont.truetype(face, 100)
    left, top, right, bottom = draw.textbbox((0, 0), text, font=probe)
    scale = min(width * FILL / max(1, right - left), height * FILL / max(1, bottom - top))
    sized = ImageFont.truetype(face, max(4, int(100 * scale)))
    draw.text((width / 2, height / 2), text, font=sized, fill=255, anchor="mm")
    return mask.point(lambda v: 255 if v >= 128 else 0)


def picture_mask(path: Path, width: int, height: int) -> Image.Image:
    """The picture at `path` fitted to the clip (as /animate's) and made black and white by its
    own brightness: what is brighter than its mean shows light in the clip."""
    grey = ImageOps.autocontrast(fit_image(path, width, height).convert("L"))
    histogram = grey.histogram()
    mean = sum(i * n for i, n in enumerate(histogram)) / max(1, sum(histogram))
    return grey.point(lambda v: 255 if v > mean else 0)


def spec_mask(spec: RenderSpec, inputs: Sequence[Path]) -> Image.Image:
    """The mask a spec of mode "illusion" hides: its message, or else its one picture."""
    if spec.mode != "illusion":
        raise ValueError(f"mode {spec.mode!r} hides nothing; mode 'illusion' does")
    if spec.illusion_text:
        if inputs:
            raise ValueError(f"an illusion with a message takes no input media, got {len(inputs)}")
        return text_mask(spec.illusion_text, spec.width, spec.height, spec.illusion_font)
    if len(inputs) != 1:
        raise ValueError(
            f"an illusion of a picture takes exactly one input image, got {len(inputs)}"
        )
    return picture_mask(inputs[0], spec.width, spec.height)


def conditioning_frames(mask: Image.Image, num_frames: int) -> list[Image.Image]:
    """The mask as RGB, once per frame: the ControlNet sees it under every frame."""
    rgb = mask.convert("RGB")
    return [rgb] * num_frames


def controlnet_source() -> tuple[str, str | None]:
    """REELBOT_ILLUSION_CONTROLNET (or `CONTROLNET`) as (hub id or folder, subfolder)."""
    value = os.environ.get(f"REELBOT_{CONTROLNET_SETTING.upper()}", "").strip() or CONTROLNET
    repo, _, subfolder = value.partition("::")
    return repo, subfolder or None


def build_tiny_controlnet(unet: Any) -> Any:
    """A random ControlNetModel matching the tiny UNet's blocks; its conditioning embedding
    downsamples 8x, as the tiny VAE does, so the mask meets the latents at their size."""
    import torch
    from diffusers import ControlNetModel

    from worker.backends.common import seeded_build

    config = unet.config
    with seeded_build(7):
        controlnet = ControlNetModel(
            block_out_channels=tuple(config.block_out_channels),
            layers_per_block=1,
            in_channels=4,
            down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
            cross_attention_dim=config.cross_attention_dim,
            conditioning_embedding_out_channels=(8, 8, 8, 8),
            norm_num_groups=2,
        ).eval()
        # ControlNet starts from zero convolutions (no effect until trained): random ones here,
        # so the tiny clip shows the mask's influence in CI
        zeroed = (
            *controlnet.controlnet_down_blocks,
            controlnet.controlnet_mid_block,
            controlnet.controlnet_cond_embedding.conv_out,
        )
        with torch.no_grad():
            for conv in zeroed:
                torch.nn.init.normal_(conv.weight, std=0.2)
    return controlnet


class IllusionPipelines:
    """The AnimateDiff pipeline's ControlNet sibling, made once at the first illusion clip.

    `AnimateDiffControlNetPipeline.from_pipe` shares every loaded component (the UNet with its
    motion modules and LoRAs, the VAE, the text encoder), so only the ControlNet is new memory."""

    def __init__(self, tiny: bool) -> None:
        self.tiny = tiny
        self._pipe: Any = None
        self._lock = threading.Lock()

    def for_(self, pipe: Any) -> Any:
        with self._lock:
            if self._pipe is None:
                self._pipe = self._build(pipe)
            return self._pipe

    def _build(self, pipe: Any) -> Any:
        from diffusers import AnimateDiffControlNetPipeline

        if self.tiny:
            controlnet = build_tiny_controlnet(pipe.unet)
        else:
            from diffusers import ControlNetModel

            repo, subfolder = controlnet_source()
            try:
                controlnet = ControlNetModel.from_pretrained(
                    repo, subfolder=subfolder, torch_dtype=pipe.unet.dtype, use_safetensors=True
                )
            except Exception as exc:  # any: the worker keeps serving every other clip
                shown = f"{repo}::{subfolder}" if subfolder else repo
                log.error("REELBOT_ILLUSION_CONTROLNET=%s can't be loaded: %s", shown, exc)
                raise ValueError(
                    "hidden messages are off on this server: its ControlNet can't be loaded "
                    "(the operator's log names REELBOT_ILLUSION_CONTROLNET)"
                ) from exc
        controlnet.to(pipe.unet.device)
        illusion = AnimateDiffControlNetPipeline.from_pipe(pipe, controlnet=controlnet)
        illusion.set_progress_bar_config(disable=True)
        return illusion
