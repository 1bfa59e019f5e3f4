"""A tiny, randomly initialised LTX-Video pipeline: the real `diffusers.LTXPipeline` on CPU.

It is built the way diffusers' own tests build theirs (`get_dummy_components` in
`tests/pipelines/ltx/test_ltx.py`), with everything made in code: no weights, configs or tokenizer
files are downloaded, ever. The clips are coloured noise, but every other part of a render is real
(text encoding, classifier-free guidance, the flow-matching scheduler, the step callback, the
causal video VAE), which is what the tests, the CI and the local demo need.

The VAE keeps LTX-Video's real geometry (4x4 patches and three 2x spatio-temporal scalings, so 32x
spatially and 8x in time); sizes must therefore be multiples of 32 and frame counts 8k+1, exactly as
for the production model. `-motion` is not mapped for the tiny model: it has no trained notion of
motion to steer, so the setting is accepted and has no effect here.

Image-to-video (`mode="i2v"`) runs the real `diffusers.LTXImageToVideoPipeline` over the very
same modules (no second copy of any weight): the conditioning image, center-cropped and resized
to the clip's size (`worker.images.fit_image`), is encoded by the VAE into the first latent
frame, which stays fixed while the rest is denoised, exactly as in production. With random
weights the VAE is no autoencoder, so the decoded first frame does not *look* like the image;
the tests check the conditioning where it lives, in the latents.

`-loop` and /animate's end image run `diffusers.LTXConditionPipeline` over the same modules,
with keyframes at the first and last frame, as the ltx family does (`worker.backends.keyframes`).

torch and diffusers are imported inside `load()` only, so the bot can read `CAPABILITIES`
without them.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from core.capabilities import FAMILIES
from core.spec import RenderSpec
from worker.backends import RenderedClip, StepCallback
from worker.backends.keyframes import ended, ltx_ending, wants_ending
from worker.fast import FastApplied, FastPath
from worker.images import fit_image
from worker.styles import StyleAdapters

log = logging.getLogger(__name__)

# LTX's VAE: 8x temporal compression, so a clip has 8k+1 frames (the first latent frame is one
# image, each further one covers 8 frames).
_TEMPORAL_RATIO = 8
_MIN_FRAMES = 9

CAPABILITIES = FAMILIES["tiny"]

# A word-level vocabulary: common prompt words as whole pieces, then single characters so any
# other ASCII word still tokenizes (only characters outside these map to <unk>).
_WORDS = """
a an the of and or in on at by for to from with without into over under above below near
behind through across along around between is are was be being very slowly quickly gently
man woman boy girl child people person crowd friends family dancer robot astronaut knight
wizard king queen cat dog horse bird fish dragon monkey bear lion tiger wolf fox owl whale
shark butterfly bee tree trees forest flower flowers grass garden field mountain mountains
hill river lake ocean sea beach wave waves island desert snow ice rain storm cloud clouds sky
sun sunset sunrise moon star stars night day morning evening city street road bridge house
castle tower building room window door car train boat ship plane rocket space planet earth
fire smoke water light lights shadow neon city-lights lamp candle glass mirror book table
chair cup coffee food cake pizza red orange yellow green blue purple pink black white gold
silver gray brown dark bright colorful beautiful cute tiny small big giant old young happy
sad angry calm peaceful epic cinematic dramatic realistic photorealistic cartoon anime
painting watercolor oil sketch pixel art style 3d render film camera shot close-up closeup
wide aerial drone view portrait landscape detailed high quality 4k 8k hd lighting soft warm
cold golden hour foggy misty rainy sunny walking running flying swimming dancing jumping
sitting standing falling floating spinning smiling laughing singing playing eating
drinking reading looking holding riding driving fighting exploring glowing burning melting
growing blooming moving zoom pan rotate static slow motion time-lapse timelapse loop
background foreground scene world magic magical futuristic cyberpunk steampunk fantasy
medieval ancient modern vintage retro surreal dreamy abstract minimal blurry distorted
ugly deformed low worst watermark text logo frame frames noise
"""
_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789.,!?;:'\"-()&/"


def _vocab() -> list[tuple[str, float]]:
    """T5's layout: <pad>=0, </s>=1, <unk>=2, then the pieces; whole words outscore spellings."""
    vocab = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), ("\u2581", -2.0)]
    words = dict.fromkeys(_WORDS.split())  # ordered and unique
    vocab += [(f"\u2581{word}", -5.0) for word in words]
    vocab += [(char, -10.0) for char in _CHARS]
    return vocab


def _build_pipeline() -> Any:  # a diffusers.LTXPipeline (diffusers does not type-check)
    """Every weight drawn from a fixed seed, so every worker process builds the same model."""
    import torch
    from diffusers import (
        AutoencoderKLLTXVideo,
        FlowMatchEulerDiscreteScheduler,
        LTXPipeline,
        LTXVideoTransformer3DModel,
    )
    from tokenizers import normalizers
    from transformers import T5Config, T5EncoderModel, T5Tokenizer

    vocab = _vocab()
    tokenizer = T5Tokenizer(vocab=vocab, extra_ids=0, model_max_length=128)
    tokenizer.backend_tokenizer.normalizer = normalizers.Sequence(
        [normalizers.NFKC(), normalizers.Lowercase()]
    )
    # Fork the global RNG so building the model leaves the caller's random state untouched.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        text_encoder: Any = T5EncoderModel(
            T5Config(
                vocab_size=len(vocab),
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
        transformer: Any = LTXVideoTransformer3DModel(
            in_channels=8,
            out_channels=8,
            patch_size=1,
            patch_size_t=1,
            num_attention_heads=4,
            attention_head_dim=8,
            cross_attention_dim=32,
            num_layers=1,
            caption_channels=32,
        )
        vae: Any = AutoencoderKLLTXVideo(
            latent_channels=8,
            block_out_channels=(8, 8, 8, 8),
            decoder_block_out_channels=(8, 8, 8, 8),
            layers_per_block=(1, 1, 1, 1, 1),
            decoder_layers_per_block=(1, 1, 1, 1, 1),
            spatio_temporal_scaling=(True, True, True, False),
            decoder_spatio_temporal_scaling=(True, True, True, False),
            patch_size=4,
            patch_size_t=1,
        )
    for module in (text_encoder, transformer, vae):
        module.eval()  # no dropout: the same inputs give the same outputs
    pipe: Any = LTXPipeline(
        scheduler=FlowMatchEulerDiscreteScheduler(),
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        transformer=transformer,
    )
    pipe.set_progress_bar_config(disable=True)
    return pipe


def _image_pipeline(pipe: Any) -> Any:  # a diffusers.LTXImageToVideoPipeline
    """Image-to-video over `pipe`'s own modules: shared, so nothing is built or placed twice."""
    from diffusers import LTXImageToVideoPipeline

    image_pipe: Any = LTXImageToVideoPipeline(**pipe.components)
    image_pipe.set_progress_bar_config(disable=True)
    return image_pipe


def _condition_pipeline(pipe: Any) -> Any:  # a diffusers.LTXConditionPipeline
    """Keyframes (loops, end pictures) over `pipe`'s own modules, as `_image_pipeline`."""
    from diffusers import LTXConditionPipeline

    condition_pipe: Any = LTXConditionPipeline(**pipe.components)
    condition_pipe.set_progress_bar_config(disable=True)
    return condition_pipe


def native_frames(duration_s: float, native_fps: int = CAPABILITIES.native_fps) -> int:
    """The fewest 8k+1 frames (at least 9) whose span, 8k / native_fps, covers `duration_s`."""
    k = max(1, math.ceil(duration_s * native_fps / _TEMPORAL_RATIO - 1e-9))
    return max(_MIN_FRAMES, _TEMPORAL_RATIO * k + 1)


class TinyBackend:
    """The tiny LTX pipelines (text- and image-to-video), kept warm; one clip at a time."""

    capabilities = CAPABILITIES

    def __init__(self, pipe: Any, device: str) -> None:
        self.pipe = pipe
        self.image_pipe = _image_pipeline(pipe)
        self.condition_pipe = _condition_pipeline(pipe)
        self.device = device
        # A pipeline keeps per-call state on itself (guidance, interrupt flag), and both share
        # one scheduler and one set of modules: one render at a time, whichever the mode.
        self._lock = threading.Lock()
        self.fast = FastPath(device)
        self.last_fast = FastApplied()  # what the fast tier did to the latest clip
        self.styles = StyleAdapters.none(CAPABILITIES.name)  # the worker sets the file's

    def parameter_count(self) -> dict[str, int]:
        return {
            name: sum(p.numel() for p in getattr(self.pipe, name).parameters())
            for name in ("text_encoder", "transformer", "vae")
        }

    def render(
        self, spec: RenderSpec, on_step: StepCallback, *, inputs: Sequence[Path] = ()
    ) -> RenderedClip:
        """Render `spec`; `on_step(step, total)` after each denoising step may raise to stop.

        For `i2v`, `inputs` holds the conditioning image (resolved by the worker), and after
        it the end picture when the spec has one (`end_frame`).
        """
        import torch

        caps = self.capabilities
        if spec.mode not in caps.modes:
            raise ValueError(f"mode {spec.mode!r} is not supported by the tiny backend")
        m = caps.size_multiple
        if spec.width % m or spec.height % m:
            raise ValueError(
                f"width={spec.width} and height={spec.height} must both be multiples of {m}"
            )
        if spec.duration_s > caps.max_seconds + 1e-9:
            raise ValueError(
                f"num_frames={spec.num_frames} at fps={spec.fps} is {spec.duration_s:.2f} s; "
                f"the tiny backend renders at most {caps.max_seconds} s"
            )
        num_frames = native_frames(spec.duration_s, caps.native_fps)
        pipe: Any = self.pipe
        image: dict[str, Any] = {}
        if spec.mode == "i2v":
            if len(inputs) != 1 + spec.end_frame:  # the end picture follows the start one
                count = "two input images (start, end)" if spec.end_frame else "one input image"
                raise ValueError(f"mode 'i2v' takes exactly {count}, got {len(inputs)}")
            pipe = self.image_pipe
            image["image"] = fit_image(inputs[0], spec.width, spec.height)
        elif spec.mode == "frames":  # the pictures, each at its point in time (keyframes)
            if len(inputs) != len(spec.input_media):
                raise ValueError(f"mode 'frames' takes {len(spec.input_media)} input images")
        elif inputs:
            raise ValueError(f"mode {spec.mode!r} takes no input media, got {len(inputs)}")
        if wants_ending(spec):  # the keyframes replace the image-to-video pipeline's picture
            pipe, image = self.condition_pipe, {}

        def step_end(pipe: Any, i: int, t: Any, tensors: dict[str, Any]) -> dict[str, Any]:
            on_step(i + 1, pipe.num_timesteps)
            return {}

        with (
            self._lock,
            self.styles.use(pipe, spec) as style,
            self.fast.use(pipe, spec.quality, caps.fast, adapters=style) as applied,
        ):
            self.last_fast = applied
            kwargs: dict[str, Any] = {
                **image,
                "prompt": spec.full_prompt(),
                "negative_prompt": spec.full_negative_prompt(),
                "width": spec.width,
                "height": spec.height,
                "num_frames": num_frames,
                "frame_rate": caps.native_fps,
                "num_inference_steps": spec.steps,
                "guidance_scale": caps.guidance_for(spec.quality, spec.guidance_scale),
                "generator": torch.Generator(self.device).manual_seed(spec.seed),
                "output_type": "np",
                "callback_on_step_end": step_end,
            }
            if wants_ending(spec):
                kwargs = ltx_ending(pipe, kwargs, spec, inputs, on_step)
            output = pipe(**kwargs)
        video = np.asarray(output.frames[0])  # (T, H, W, 3) float32 in [0, 1]
        frames = np.clip(np.round(video * 255.0), 0, 255).astype(np.uint8)
        if wants_ending(spec):
            frames = ended(frames, spec, inputs, caps.native_fps)
        return RenderedClip(frames=frames, fps=float(caps.native_fps))


def load(model: str | None = None, device: str = "auto") -> TinyBackend:
    """Build the tiny pipeline in memory and place it: a few seconds, nearly all of it imports."""
    if model is not None:
        raise ValueError(
            f"model={model!r}: the tiny backend builds its random weights in code and loads none; "
            "leave the model unset"
        )
    import torch

    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    started = time.perf_counter()
    pipe = _build_pipeline().to(device)
    log.info("tiny backend built on %s in %.2f s", device, time.perf_counter() - started)
    return TinyBackend(pipe, device)
