"""Wan 2.1 VACE: text-to-video, and the clip editor (✏️ Modify, ↔ Expand, /add, /swap).

One `diffusers.WanVACEPipeline` does both. `t2v` is VACE with no video and no mask (it
generates everything). `edit` gives it the parent's frames, a mask per frame (white: generate,
black: keep; `worker.edit_masks`) and, for /add and /swap with a picture, that picture as a
reference image; the result is composited back over the parent (`worker.composite`), so what
lies outside the edit is the parent's, pixel for pixel, before encoding. `worker.edit_inputs`
reads the parent and builds the masks; words naming a thing are found by the region finder
(`worker.regions`, SAM 3), loaded at the first edit that has words (REELBOT_REGIONS_MODEL).

The VAE stays in float32 (as Wan's model card advises) while the rest runs in bf16 on CUDA.
`builtin:tiny` builds the same classes, tiny and random, in code (a Wan 2.1-style VAE with 16
latent channels, a VACE transformer with two control layers, a UMT5 encoder, the in-memory T5
tokenizer): no download. Sizes are multiples of 16 (8x VAE, 2x2 patches), frame counts 4k+1.
Needs `ftfy` (prompt clean-up).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from core.capabilities import FAMILIES, served_capabilities
from core.models import REGIONS_ID, WAN_VACE_ID
from core.spec import RenderSpec
from worker import camera as vcam
from worker.backends import RenderedClip, StepCallback
from worker.backends.common import (
    TINY,
    check_spec,
    frames_for,
    optimize,
    resolve_device,
    seeded_build,
    step_callback,
    t5_tokenizer,
    tiny_umt5_encoder,
    to_uint8,
    wan_flow_scheduler,
)
from worker.edit_inputs import EditInputs, edit_inputs
from worker.edit_masks import RegionFinder, mask_images
from worker.fast import FastPath
from worker.images import read_picture
from worker.motion import camera_travel
from worker.styles import StyleAdapters

log = logging.getLogger(__name__)

DEFAULT_MODEL = WAN_VACE_ID
CAPABILITIES = FAMILIES["wan_vace"]


class WanVaceBackend:
    """One VACE pipeline kept warm, and the region finder once an edit needs it."""

    capabilities = CAPABILITIES

    def __init__(self, pipe: Any, *, max_sequence_length: int, regions_model: str) -> None:
        self.pipe = pipe
        self.max_sequence_length = max_sequence_length  # prompt tokens; Wan was trained on 512
        self.regions_model = regions_model
        self.device = str(pipe._execution_device)
        self._finder: RegionFinder | None = None
        self._lock = threading.Lock()
        self.fast = FastPath(self.device)
        self.styles = StyleAdapters.none(CAPABILITIES.name)  # the worker sets the file's

    def finder(self) -> RegionFinder:
        """The region finder, loaded at the first edit with words (it stays resident)."""
        if self._finder is None:
            from worker.regions import RegionFinder as Sam

            started = time.perf_counter()
            dtype = self.pipe.transformer.dtype
            self._finder = Sam.load(self.regions_model, device=self.device, dtype=dtype)
            log.info(
                "region finder %s in %.2f s", self.regions_model, time.perf_counter() - started
            )
        return self._finder

    def _check(self, spec: RenderSpec, inputs: Sequence[Path]) -> None:
        caps = self.capabilities
        if spec.mode != "edit":
            check_spec(caps, spec, inputs)
            return
        # check_spec's other rules (size grid, length, no loop) hold for edits too; an edit's
        # inputs are the parent and perhaps a picture (RenderSpec checked which).
        check_spec(caps, spec.model_copy(update={"mode": "t2v", "input_media": ()}), ())
        if len(inputs) != len(spec.input_media):
            raise ValueError(f"mode 'edit' takes {len(spec.input_media)} inputs, got {len(inputs)}")
        if vcam.moves(spec.camera):
            raise ValueError(f"camera={spec.camera!r} can't be used with mode 'edit'")

    def render(
        self,
        spec: RenderSpec,
        on_step: StepCallback,
        *,
        inputs: Sequence[Path] = (),
        references: Sequence[Path] = (),
    ) -> RenderedClip:
        """Render `spec`; for an edit `inputs` are the parent's MP4 (and the picture);
        `references` are -ref's pictures (saved characters), VACE's reference_images."""
        import torch

        caps = self.capabilities
        self._check(spec, inputs)
        kwargs: dict[str, Any] = {
            "prompt": spec.full_prompt(),
            "negative_prompt": spec.full_negative_prompt(),
            "num_inference_steps": spec.steps,
            "guidance_scale": caps.guidance_for(spec.quality, spec.guidance_scale),
            "generator": torch.Generator(self.device).manual_seed(spec.seed),
            "max_sequence_length": self.max_sequence_length,
            "output_type": "np",
            "callback_on_step_end": step_callback(on_step),
        }
        edit: EditInputs | None = None
        moving = vcam.moves(spec.camera)
        if spec.mode == "edit":
            edit = edit_inputs(spec, caps, inputs, self.finder)
            count, height, width = edit.mask.shape
            log.info(
                "edit %s: %d frames at %dx%d, %.0f%% of the pixels regenerated",
                spec.edit.describe() if spec.edit else "",
                count,
                width,
                height,
                100 * float(edit.mask.mean()),
            )
            kwargs |= {"video": list(_pictures(edit.video)), "mask": mask_images(edit.mask)}
            if edit.reference is not None:
                kwargs["reference_images"] = [edit.reference]
        else:
            width, height = vcam.render_size(
                spec.width, spec.height, caps.size_multiple, spec.camera
            )
            count = frames_for(spec.duration_s, caps.native_fps, caps.frame_step)
            if references:  # the pipeline fits each picture into the frame itself
                kwargs["reference_images"] = [read_picture(path) for path in references]
                log.info(
                    "-ref: %d reference_images (%s)",
                    len(references),
                    ", ".join(f"{p.width}x{p.height}" for p in kwargs["reference_images"]),
                )
        kwargs |= {"width": width, "height": height, "num_frames": count}
        with (
            self._lock,
            self.styles.use(self.pipe, spec) as style,
            self.fast.use(self.pipe, spec.quality, caps.fast, adapters=style),
        ):
            video = self.pipe(**kwargs).frames[0]
        frames = to_uint8(video)
        if edit is not None:
            frames = edit.composite(frames)
            mask = edit.reach()[: len(frames)]
            return RenderedClip(frames=frames, fps=float(caps.native_fps), mask=mask)
        if moving:
            travel = camera_travel(spec.motion)
            frames = vcam.apply_camera(frames, spec.camera, spec.width, spec.height, travel=travel)
        return RenderedClip(frames=frames, fps=float(caps.native_fps))


def _pictures(frames: Any) -> Any:
    from PIL import Image

    return (Image.fromarray(frame) for frame in frames)


def _build_tiny() -> Any:  # a diffusers.WanVACEPipeline
    """Wan 2.1 VACE's geometry in miniature (the shape of diffusers' own VACE test components:
    16 latent channels, control layers 0 and 2 of 3), seeded."""
    from diffusers import (
        AutoencoderKLWan,
        WanVACEPipeline,
        WanVACETransformer3DModel,
    )

    z_dim = 16
    with seeded_build(0):
        vae = AutoencoderKLWan(
            base_dim=3,
            z_dim=z_dim,
            dim_mult=[1, 1, 1, 1],
            num_res_blocks=1,
            temperal_downsample=[False, True, True],
        )
        text_encoder = tiny_umt5_encoder()
        transformer = WanVACETransformer3DModel(
            patch_size=(1, 2, 2),
            num_attention_heads=2,
            attention_head_dim=12,
            in_channels=z_dim,
            out_channels=z_dim,
            text_dim=32,
            freq_dim=256,
            ffn_dim=32,
            num_layers=3,
            cross_attn_norm=True,
            qk_norm="rms_norm_across_heads",
            rope_max_seq_len=1024,
            vace_layers=[0, 2],
            # the parent's latents twice (kept, regenerated) and the mask folded 8x8 into channels
            vace_in_channels=2 * z_dim + 8 * 8,
        )
    for module in (vae, text_encoder, transformer):
        module.eval()
    scheduler = wan_flow_scheduler()
    return WanVACEPipeline(
        tokenizer=t5_tokenizer(64),
        text_encoder=text_encoder,
        vae=vae,
        scheduler=scheduler,
        transformer=transformer,
    )


def load(
    model: str | None = None, device: str = "auto", regions_model: str | None = None
) -> WanVaceBackend:
    """Load (or, for `builtin:tiny`, build) the pipeline and place it on `device`. The region
    finder is only named here; it loads at the first edit with words."""
    model = model or DEFAULT_MODEL
    regions = regions_model or REGIONS_ID
    device, dtype = resolve_device(device)
    started = time.perf_counter()
    if model == TINY:
        pipe = _build_tiny().to(device)  # float32: the tiny model is for CPUs and tests
        if regions == REGIONS_ID:  # not set by the operator: the tiny finder goes with it
            regions = TINY
    else:
        import torch
        from diffusers import AutoencoderKLWan, WanVACEPipeline

        from worker.model_sources import loading

        with loading("wan_vace", "model", model):
            vae = AutoencoderKLWan.from_pretrained(
                model, subfolder="vae", torch_dtype=torch.float32
            )
            pipe = WanVACEPipeline.from_pretrained(model, vae=vae, torch_dtype=dtype)
        pipe.to(device)
    optimize(pipe, device, CAPABILITIES)
    pipe.set_progress_bar_config(disable=True)
    log.info("wan_vace backend %s on %s in %.2f s", model, device, time.perf_counter() - started)
    tokens = pipe.tokenizer.model_max_length if model == TINY else 512
    backend = WanVaceBackend(pipe, max_sequence_length=tokens, regions_model=regions)
    backend.capabilities = served_capabilities("wan_vace", model)  # smaller on builtin:tiny
    return backend
