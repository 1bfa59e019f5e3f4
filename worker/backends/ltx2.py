"""LTX-2 (Lightricks): text- and image-to-video with synchronized sound, from one model.

- `t2v`: `diffusers.LTX2Pipeline`.
- `i2v`: `diffusers.LTX2ImageToVideoPipeline` over the very same modules, the picture (center-
  cropped and resized to the render size) as the first frame.

LTX-2 denoises video and audio latents together in one transformer (each stream attends to the
other, which is what keeps them in sync), so every render makes a sound track whether or not it
is wanted; `sound=True` in the spec (`-sound`) keeps it: the audio VAE and the vocoder turn the
audio latents into a waveform, returned as `RenderedClip.audio` (float32, (channels, samples),
starting with the first frame) at the vocoder's `output_sampling_rate` (24 kHz stereo for
LTX-2.0), and `worker.encode` muxes it as AAC, cut or padded to the clip's length. Without
`-sound` the waveform is dropped and the MP4 has no audio stream; the picture is the same either
way (same seed, same frames).

The default model is `Lightricks/LTX-2` (the 19B dev checkpoint in diffusers layout, Gemma 3 12B
text encoder); another LTX-2.x checkpoint in diffusers layout can be named with `REELBOT_MODEL`
(a hub id or a local folder). Guidance and the other sampling knobs are diffusers' defaults
(30 steps, classifier-free guidance 3.0 at Pika's 12, audio guidance 7.0, STG, modality
guidance), except that an LTX-2.0 checkpoint (one shared text projection in its connectors) runs
STG at block 29 with the legacy timestep for cross-attention, as the pipeline's docs advise for
2.0. `builtin:tiny` builds a tiny randomly initialised model of the same classes in code (the
transformer, both VAEs, the vocoder, the text connectors, a Gemma 3 text encoder and a Gemma
tokenizer over an in-memory vocabulary): nothing is downloaded, ever.

Sizes are multiples of 32 and frame counts 8k+1 (the video VAE compresses 32x in space, 8x in
time), at 24 fps. LTX-2 has no camera input in this pipeline (its camera-control LoRAs are
IC-LoRAs for another pipeline): `-camera` is the virtual camera of `worker.camera`. `-motion`
drives two things:

| -motion                                   | 0    | 1    | 2    | 3    | 4    |
|-------------------------------------------|------|------|------|------|------|
| `motion_speed` (video time base)          | 0.8  | 1.0  | 1.1  | 1.2  | 1.25 |
| virtual-camera travel (with `-camera`)    | 0.2  | 0.5  | 0.7  | 0.85 | 1.0  |

`motion_speed` divides the frame rate the video's positional embeddings are conditioned on (the
clip still plays, and its sound lasts, at 24 fps): below 1 the model lays out slower motion, above
1 faster. The table keeps that rate within 19-30 fps, near the 24-30 fps the model was trained at,
so the default (`-motion 1`) is the model's own speed. Audio positions are not affected.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from core.capabilities import FAMILIES
from core.spec import MIN_MOTION, RenderSpec
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
    to_uint8,
)
from worker.fast import FastPath
from worker.images import fit_image
from worker.motion import camera_travel
from worker.styles import StyleAdapters

log = logging.getLogger(__name__)

DEFAULT_MODEL = "Lightricks/LTX-2"
MOTION_SPEED = (0.8, 1.0, 1.1, 1.2, 1.25)
LTX2_0_STG_BLOCK = 29  # the pipeline's advice for LTX-2.0; its default (28) is for 2.3
MAX_PROMPT_TOKENS = 1024  # the pipeline's default; a 1,500-character prompt fits
_STEP = 8
# /speak clip:…: how much of each step's estimate is the clip's own (worker.backends.ltx2's
# clip_condition). 0.5 is our choice, not a measured one: half keeps the clip's look, framing
# and motion; the other half leaves the mouth room to follow the voice. Higher keeps more of the
# original (and of its closed or moving lips), lower lets the model redraw more.
CLIP_STRENGTH = 0.5

CAPABILITIES = FAMILIES["ltx2"]


def motion_speed(motion: int) -> float:
    """The pipeline's `motion_speed` for `-motion` (see the module's table)."""
    return MOTION_SPEED[motion - MIN_MOTION]


class LTX2Backend:
    """LTX-2's text- and image-to-video pipelines over one set of modules; one clip at a time."""

    capabilities = CAPABILITIES

    def __init__(self, pipe: Any, image_pipe: Any, *, max_sequence_length: int) -> None:
        self.pipe = pipe
        self.image_pipe = image_pipe
        self.max_sequence_length = max_sequence_length
        self.device = str(pipe._execution_device)
        self.sample_rate = int(pipe.vocoder.config.output_sampling_rate)
        legacy = not pipe.connectors.config.per_modality_projections  # LTX-2.0
        last_block = pipe.transformer.config.num_layers - 1
        self.guidance: dict[str, Any] = {}
        if legacy:
            self.guidance = {
                "spatio_temporal_guidance_blocks": [min(LTX2_0_STG_BLOCK, last_block)],
                "use_cross_timestep": False,
            }
        # Both pipelines keep per-call state on themselves and share every module.
        self._lock = threading.Lock()
        self._clip_pipe: Any = None  # LTX2ConditionPipeline, for /speak clip:…
        self.fast = FastPath(self.device)  # the -fast recipe, switched on per clip
        self.styles = StyleAdapters.none(CAPABILITIES.name)  # the worker sets the file's

    def render(
        self, spec: RenderSpec, on_step: StepCallback, *, inputs: Sequence[Path] = ()
    ) -> RenderedClip:
        """Render `spec`; for i2v `inputs` is one picture. The sound comes back only if asked."""
        return self._render(spec, on_step, inputs)

    def speak(
        self, spec: RenderSpec, on_step: StepCallback, picture: Path, voice: np.ndarray, rate: int
    ) -> RenderedClip:
        """/speak: `picture` animated beside `voice` (mono float samples at `rate` Hz), its
        audio latents held clean at every step (`worker.backends.lipsync`); silent frames
        come back, the voice itself is the track (`worker.speak`)."""
        from worker.speech import Voice, resampled

        vae_rate = int(self.pipe.audio_vae.config.sample_rate)
        samples = resampled(Voice(voice[None, :], rate), vae_rate)
        i2v = spec.model_copy(update={"mode": "i2v", "speak_text": "", "sound": False})
        return self._render(i2v, on_step, (picture,), voice=samples)

    def speak_clip(
        self,
        spec: RenderSpec,
        on_step: StepCallback,
        frames: np.ndarray,
        voice: np.ndarray,
        rate: int,
    ) -> RenderedClip:
        """/speak clip:…: the clip's `frames` (uint8, at `spec.fps`) re-rendered beside `voice`:
        all of them one video condition of strength `CLIP_STRENGTH` (see `clip_condition`),
        the voice's audio latents held clean as /speak's; silent frames come back."""
        from worker.speech import Voice, resampled

        vae_rate = int(self.pipe.audio_vae.config.sample_rate)
        samples = resampled(Voice(voice[None, :], rate), vae_rate)
        t2v = spec.model_copy(
            update={"mode": "t2v", "input_media": (), "speak_text": "", "sound": False}
        )
        return self._render(t2v, on_step, (), voice=samples, video=frames, video_fps=spec.fps)

    @property
    def clip_pipe(self) -> Any:
        """`LTX2ConditionPipeline` over the very same modules (made once, on first use)."""
        if self._clip_pipe is None:
            from diffusers import LTX2ConditionPipeline

            self._clip_pipe = LTX2ConditionPipeline(**self.pipe.components)
            self._clip_pipe.set_progress_bar_config(disable=True)
        return self._clip_pipe

    def _render(
        self,
        spec: RenderSpec,
        on_step: StepCallback,
        inputs: Sequence[Path],
        *,
        voice: np.ndarray | None = None,
        video: np.ndarray | None = None,
        video_fps: float = 0.0,
    ) -> RenderedClip:
        import torch

        from worker.backends.lipsync import encode_voice, held_voice, packed_voice

        caps = self.capabilities
        check_spec(caps, spec, inputs)
        width, height = vcam.render_size(spec.width, spec.height, caps.size_multiple, spec.camera)
        kwargs: dict[str, Any] = {
            "prompt": spec.full_prompt(),
            "negative_prompt": spec.full_negative_prompt(),
            "width": width,
            "height": height,
            "num_frames": frames_for(spec.duration_s, caps.native_fps, _STEP, minimum=_STEP + 1),
            "frame_rate": caps.native_fps,
            "motion_speed": motion_speed(spec.motion),
            "num_inference_steps": spec.steps,
            "guidance_scale": caps.guidance_for(spec.quality, spec.guidance_scale),
            "generator": torch.Generator(self.device).manual_seed(spec.seed),
            "max_sequence_length": self.max_sequence_length,
            "output_type": "np",
            "callback_on_step_end": step_callback(on_step),
            **self.guidance,
        }
        pipe = self.pipe
        if spec.mode == "i2v":
            pipe = self.image_pipe
            kwargs["image"] = fit_image(inputs[0], width, height)
        if video is not None:  # /speak clip:…: the clip's own frames, one video condition
            pipe = self.clip_pipe
            kwargs["conditions"] = [
                clip_condition(
                    video, video_fps, kwargs["num_frames"], caps.native_fps, width, height
                )
            ]
        held: Any = contextlib.nullcontext()
        if voice is not None:  # /speak: the voice's latents in the audio stream, held clean
            latents = encode_voice(pipe, voice, kwargs["num_frames"], caps.native_fps)
            kwargs["audio_latents"] = latents
            held = held_voice(pipe.transformer, packed_voice(pipe, latents))
        with (
            self._lock,
            self.styles.use(pipe, spec) as style,
            self.fast.use(pipe, spec.quality, caps.fast, adapters=style),
            held,
        ):
            output = pipe(**kwargs)
        frames = to_uint8(output.frames[0])
        if vcam.moves(spec.camera):
            travel = camera_travel(spec.motion)
            frames = vcam.apply_camera(frames, spec.camera, spec.width, spec.height, travel=travel)
        if not spec.sound:
            return RenderedClip(frames=frames, fps=float(caps.native_fps))
        audio = output.audio[0]  # a tensor (channels, samples), whatever the output_type
        audio = np.asarray(audio.float().cpu() if hasattr(audio, "cpu") else audio, np.float32)
        return RenderedClip(
            frames=frames, fps=float(caps.native_fps), audio=audio, sample_rate=self.sample_rate
        )


def clip_condition(
    frames: np.ndarray, fps: float, num_frames: int, rate: int, width: int, height: int
) -> Any:
    """The clip as one `LTX2VideoCondition` over every frame the render makes (index 0, the
    clip resampled in time to `num_frames` at `rate`, nearest frame; a short clip holds its last
    one), at `CLIP_STRENGTH`.

    Why a condition of every frame, and not an image-to-video render from the first frame or a
    re-noised copy of the clip's latents: the pipeline's own keyframe path then keeps the whole
    clip, every token with a conditioning mask of `CLIP_STRENGTH`, so each token starts at that
    share of the noise, is told so by its timestep (t × (1 − strength)), and each step's
    estimate is `strength` × the clip's clean latents + (1 − strength) × the model's. The clip's
    look and motion are pinned in every step, on the schedule the model was trained on (no
    scheduler surgery), and the other share is what the voice, held in the audio stream, can
    move: the mouth."""
    from diffusers.pipelines.ltx2.pipeline_ltx2_condition import LTX2VideoCondition
    from PIL import Image

    picks = np.minimum((np.arange(num_frames) * fps / rate).astype(int), len(frames) - 1)
    pictures = [Image.fromarray(frames[i]).resize((width, height)) for i in picks]
    return LTX2VideoCondition(frames=pictures, index=0, strength=CLIP_STRENGTH)


# A character vocabulary (Gemma's "▁" for spaces) with byte fallback: any text tokenizes.
_SPECIALS = ("<pad>", "<eos>", "<bos>", "<unk>", "<mask>")
_IMAGE_TOKENS = ("<start_of_image>", "<end_of_image>", "<image_soft_token>")
_CHARS = "\u2581abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,!?;:'\"-()&/"


def gemma_vocab() -> dict[str, int]:
    """Gemma's layout: <pad>=0, <eos>=1, <bos>=2, <unk>=3, then pieces and the 256 byte tokens."""
    pieces = [*_SPECIALS, *_IMAGE_TOKENS, *_CHARS, *(f"<0x{b:02X}>" for b in range(256))]
    return {piece: i for i, piece in enumerate(pieces)}


def gemma_tokenizer(max_length: int = 128) -> Any:
    """A Gemma BPE tokenizer (no merges, byte fallback) over `gemma_vocab`, built in memory."""
    from transformers import GemmaTokenizer

    return GemmaTokenizer(vocab=gemma_vocab(), merges=[], model_max_length=max_length)


def _build_tiny() -> Any:  # a diffusers.LTX2Pipeline
    """Every module of the real pipeline, tiny and random from fixed seeds: the same model in
    every process. The video VAE keeps LTX-2's geometry (4x4 patches and three 2x spatio-
    temporal scalings: 32x in space, 8x in time); the vocoder turns 16 kHz mel frames (hop 160)
    into 16 kHz samples, so the sound lasts as long as the clip, as in the real model."""
    from diffusers import (
        AutoencoderKLLTX2Audio,
        AutoencoderKLLTX2Video,
        FlowMatchEulerDiscreteScheduler,
        LTX2Pipeline,
        LTX2VideoTransformer3DModel,
    )
    from diffusers.pipelines.ltx2 import LTX2TextConnectors
    from diffusers.pipelines.ltx2.vocoder import LTX2Vocoder
    from transformers import (
        Gemma3Config,
        Gemma3ForConditionalGeneration,
        Gemma3TextConfig,
        SiglipVisionConfig,
    )

    vocab = gemma_vocab()
    text_config = Gemma3TextConfig(
        vocab_size=len(vocab),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=1,
        head_dim=8,
        query_pre_attn_scalar=8,
        sliding_window=64,
        max_position_embeddings=256,
    )
    vision_config = SiglipVisionConfig(
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        image_size=8,
        patch_size=2,
    )
    hidden, layers = text_config.hidden_size, text_config.num_hidden_layers
    with seeded_build(0):
        text_encoder: Any = Gemma3ForConditionalGeneration(
            Gemma3Config(
                text_config=text_config,
                vision_config=vision_config,
                mm_tokens_per_image=4,
                boi_token_index=vocab["<start_of_image>"],
                eoi_token_index=vocab["<end_of_image>"],
                image_token_index=vocab["<image_soft_token>"],
            )
        )
        connectors: Any = LTX2TextConnectors(
            caption_channels=hidden,
            text_proj_in_factor=layers + 1,  # every hidden state, the embeddings' too
            video_connector_num_attention_heads=4,
            video_connector_attention_head_dim=8,
            video_connector_num_layers=1,
            video_connector_num_learnable_registers=None,
            audio_connector_num_attention_heads=4,
            audio_connector_attention_head_dim=8,
            audio_connector_num_layers=1,
            audio_connector_num_learnable_registers=None,
            connector_rope_base_seq_len=32,
            rope_double_precision=False,
            rope_type="split",
        )
        transformer: Any = LTX2VideoTransformer3DModel(
            in_channels=8,
            out_channels=8,
            num_attention_heads=2,
            attention_head_dim=8,
            cross_attention_dim=16,
            audio_in_channels=4,  # audio latent channels x latent mel bins
            audio_out_channels=4,
            audio_num_attention_heads=2,
            audio_attention_head_dim=4,
            audio_cross_attention_dim=8,
            num_layers=2,
            caption_channels=hidden,
            rope_double_precision=False,
            rope_type="split",
        )
        vae: Any = AutoencoderKLLTX2Video(
            latent_channels=8,
            block_out_channels=(8, 8, 8, 8),
            decoder_block_out_channels=(8, 8, 8),
            layers_per_block=(1, 1, 1, 1, 1),
            decoder_layers_per_block=(1, 1, 1, 1),
            spatio_temporal_scaling=(True, True, True, False),
            decoder_spatio_temporal_scaling=(True, True, True),
            decoder_inject_noise=(False, False, False, False),
            downsample_type=("spatiotemporal",) * 4,
            upsample_type=("spatiotemporal",) * 3,
            upsample_residual=(False, False, False),
            upsample_factor=(1, 1, 1),
            patch_size=4,
            decoder_causal=False,
        )
        audio_vae: Any = AutoencoderKLLTX2Audio(
            base_channels=4,
            output_channels=2,
            ch_mult=(1,),
            num_res_blocks=1,
            resolution=32,
            latent_channels=2,
            mel_bins=8,
        )
        vocoder: Any = LTX2Vocoder(
            in_channels=audio_vae.config.output_channels * audio_vae.config.mel_bins,
            hidden_channels=16,
            out_channels=2,
            upsample_kernel_sizes=[16, 10, 8],
            upsample_factors=[8, 5, 4],  # 160x: one mel hop of 16 kHz samples per frame
            resnet_kernel_sizes=[3],
            resnet_dilations=[[1, 3, 5]],
            output_sampling_rate=16000,
        )
    for module in (text_encoder, connectors, transformer, vae, audio_vae, vocoder):
        module.eval()  # no dropout: the same inputs give the same outputs
    return LTX2Pipeline(
        scheduler=FlowMatchEulerDiscreteScheduler(),
        vae=vae,
        audio_vae=audio_vae,
        text_encoder=text_encoder,
        tokenizer=gemma_tokenizer(),
        connectors=connectors,
        transformer=transformer,
        vocoder=vocoder,
    )


def load(model: str | None = None, device: str = "auto") -> LTX2Backend:
    """Load (or, for `builtin:tiny`, build) the pipelines and place them on `device`."""
    from diffusers import LTX2ImageToVideoPipeline, LTX2Pipeline

    model = model or DEFAULT_MODEL
    device, dtype = resolve_device(device)
    started = time.perf_counter()
    if model == TINY:
        # float32 on CPU; on CUDA bf16 throughout, as the real model: the accel hook casts only
        # the transformer, VAE and text encoder, and LTX-2's connectors, audio VAE and vocoder
        # must match the dtypes handed to them.
        pipe = _build_tiny().to(device, dtype)
    else:
        from worker.model_sources import loading

        with loading("ltx2", "model", model):
            pipe = LTX2Pipeline.from_pretrained(model, torch_dtype=dtype)
        pipe.to(device)
    # Speed options first, then image-to-video over the same (perhaps wrapped) modules.
    optimize(pipe, device, CAPABILITIES)
    image_pipe: Any = LTX2ImageToVideoPipeline(**pipe.components)
    for each in (pipe, image_pipe):
        each.set_progress_bar_config(disable=True)
    log.info("ltx2 backend %s on %s in %.2f s", model, device, time.perf_counter() - started)
    tokens = min(MAX_PROMPT_TOKENS, int(pipe.tokenizer.model_max_length))
    return LTX2Backend(pipe, image_pipe, max_sequence_length=tokens)
