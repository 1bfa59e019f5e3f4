"""A region named in words ("the red car") found in every frame of a clip, as masks for an edit.

Modify a region and Swap a thing let a member name the region; the worker turns the words into a
(T, H, W) mask once per edit with SAM 3 (`facebook/sam3`, transformers' `Sam3VideoModel`).

Why SAM 3. It does promptable concept segmentation on video in one model: a DETR-style detector
reads the noun phrase (a CLIP text encoder) and finds every instance in a frame, and a SAM 2-style
tracker that shares its vision backbone carries each instance through the clip with a memory,
re-detecting each frame so instances that enter later are found and drift is corrected
(transformers' sam3_video docs; `modeling_sam3_video.Sam3VideoModel._det_track_one_frame`).
Parameters, counted from transformers 5.25's default configs: SAM 3 video 860 M (ViT backbone
454 M, text encoder 353 M, DETR heads and tracker ~50 M); Grounding DINO (Swin-T) 172 M plus
SAM 2 video (Hiera-T) 39 M; EdgeTAM video 36 M. The pair is two models glued by boxes: the
tracker never reads the words, so a car that enters later is missed unless we rerun the
detector and match its boxes to tracks ourselves, which SAM 3 does inside. EdgeTAM is a small
on-device SAM 2 that takes points, boxes or masks, never words: it needs the same detector.
SAM 3 costs more memory (about 1.7 GB of weights in bf16, one 1008 x 1008 ViT pass per processed
frame), but the worker runs it once per edit, beside a video model of 5-14 B parameters.

Licence. The weights are under Meta's SAM License (facebookresearch/sam3 LICENSE, 2025-11-19),
not an open-source licence: use, copy, modify and redistribute, commercially too, royalty-free,
but whoever redistributes must pass the licence on, research publications must acknowledge SAM,
reverse engineering is not allowed, and no use subject to ITAR or end uses barred by trade
controls (military, warfare, nuclear, espionage, weapons). The hub repository is gated: an
operator accepts the licence and pulls it with a token (`REELBOT_MODELS_DIR` then holds it).

Without torchvision. `Sam3VideoProcessor` needs torchvision, and PyPI's torchvision wheels are
CUDA builds whose ops don't load on the CPU torch our tests and CI use. So this module does what
the processor does, in a few lines: frames resized to the model's square input and normalised
with SAM 3's mean and std (0.5, 0.5), the words tokenised as `add_text_prompt` does (32 tokens),
and the masks taken from the model's low-resolution logits, upsampled to the frame's size.

Bounded. At most `max_frames` frames go through the model (evenly spaced, first and last kept);
a frame between two of them gets the union of their masks, so on a long clip the region errs
wide (covers the thing wherever it was in between), never narrow. Frames are downscaled to the
model's input before the model sees them, under `torch.inference_mode()`, kept on the CPU until
each one is used. transformers runs SAM 3's mask NMS and hole filling with a hub kernel
(kernels-community/cv-utils); where that can't load (offline, or not trusted) both are skipped
with a warning: duplicate instances don't change a union, but small holes stay in the mask.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from PIL import Image

log = logging.getLogger(__name__)

REGIONS_MODEL = "facebook/sam3"
REGIONS_SETTING = "REELBOT_REGIONS_MODEL"  # the setting that names `source` (wired by the worker)
TINY = "builtin:tiny"
MAX_FRAMES = 64  # a 5 s clip at 16 fps is 81 frames; 64 model passes keep an edit's wait short
PROMPT_TOKENS = 32  # SAM 3's text encoder reads 32 positions (Sam3VideoProcessor pads to 32)
PIXEL_MEAN = 0.5  # SAM 3's image processor: IMAGENET_STANDARD_MEAN and _STD
PIXEL_STD = 0.5
# What a member can do when the finder can't load: name the region by place, which needs no model
NO_FINDER_HINT = (
    "this server can't find things by name right now; give the region as left, right, top, "
    "bottom, center, or x,y,w,h in percent instead"
)


class RegionFinder:
    """SAM 3 loaded once per worker; `find` turns words into a mask per frame of a clip."""

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        *,
        device: str = "cpu",
        dtype: torch.dtype = torch.float32,
        threshold: float | None = None,
        max_frames: int = MAX_FRAMES,
    ) -> None:
        if max_frames < 2:
            raise ValueError(f"max_frames must be 2 or more (the first and last), not {max_frames}")
        config = model.config
        if threshold is None:
            threshold = float(config.score_threshold_detection)
        if not 0.0 <= threshold <= 1.0:
            raise ValueError(f"threshold is a detection probability in [0, 1], not {threshold}")
        self.model = model
        self.tokenizer = tokenizer
        self.device = device
        self.dtype = dtype
        self.threshold = threshold
        self.max_frames = max_frames
        self.size = int(config.image_size)
        # A detection counts from `threshold`; a new instance needs the model's margin above it
        # (0.5 and 0.7 as released), never less than the threshold itself.
        margin = float(config.new_det_thresh) - float(config.score_threshold_detection)
        self._new_instance = max(threshold, min(float(config.new_det_thresh), threshold + margin))

    @classmethod
    def load(
        cls,
        source: str,
        *,
        device: str = "cpu",
        dtype: torch.dtype = torch.float32,
        threshold: float | None = None,
        max_frames: int = MAX_FRAMES,
    ) -> RegionFinder:
        """From a hub id, a folder saved in the hub's layout, or `builtin:tiny` (made in code)."""
        if source == TINY:
            from worker.regions_tiny import build_tiny_regions

            model, tokenizer = build_tiny_regions()
            model = model.to(device=device, dtype=dtype)
        else:
            model, tokenizer = _pretrained(source, device, dtype)
        return cls(
            model, tokenizer, device=device, dtype=dtype, threshold=threshold, max_frames=max_frames
        )

    def find(self, frames: Sequence[Image.Image], words: str) -> np.ndarray | None:
        """(T, H, W) bool, True where `words` names something; None when nothing scores above
        `threshold` in any frame."""
        words = words.strip()
        if not words:
            raise ValueError("name the region in words, e.g. 'the red car'")
        if not frames:
            raise ValueError("the clip has no frames to look in")
        width, height = frames[0].size
        if any(frame.size != (width, height) for frame in frames):
            raise ValueError(f"every frame must be {width}x{height}, as the first one is")
        log.debug("finding %r in %d frames", words, len(frames))
        picks = sample_indices(len(frames), self.max_frames)
        with torch.inference_mode():
            logits = self._track([frames[i] for i in picks], words)
            masks = [_upsample(low, height, width) for low in logits]
        if not any(mask.any() for mask in masks):
            return None
        return spread(masks, picks, len(frames))

    def _track(self, frames: Sequence[Image.Image], words: str) -> list[torch.Tensor | None]:
        """Each frame's union of the instances' low-resolution mask logits (None: no instance)."""
        from transformers.models.sam3_video.modeling_sam3_video import Sam3VideoInferenceSession

        session = Sam3VideoInferenceSession(
            video=self._pixels(frames),
            video_height=self.size,
            video_width=self.size,
            inference_device=self.device,
            inference_state_device=self.device,
            video_storage_device="cpu",  # N frames at 1008 x 1008 stay off the GPU until used
            dtype=self.dtype,
        )
        tokens = self.tokenizer(
            words,
            return_tensors="pt",
            padding="max_length",
            max_length=PROMPT_TOKENS,
            truncation=True,
        )
        prompt_id = session.add_prompt(words)
        session.prompt_input_ids[prompt_id] = tokens.input_ids.to(self.device)
        session.prompt_attention_masks[prompt_id] = tokens.attention_mask.to(self.device)
        # Set per call, so finders with different thresholds may share one loaded model.
        self.model.score_threshold_detection = self.threshold
        self.model.new_det_thresh = self._new_instance
        unions: list[torch.Tensor | None] = [None] * len(frames)
        for out in self.model.propagate_in_video_iterator(session):
            # As Sam3VideoProcessor.postprocess_outputs: hide the instances the model suppressed
            # on this frame or dropped as unreliable in its first frames.
            hidden = set(out.suppressed_obj_ids or ()) | set(session.hotstart_removed_obj_ids)
            kept = [m for obj, m in out.obj_id_to_mask.items() if obj not in hidden]
            if kept:
                unions[out.frame_idx] = torch.cat(kept).amax(dim=0).float().cpu()
        return unions

    def _pixels(self, frames: Sequence[Image.Image]) -> torch.Tensor:
        """(N, 3, S, S) as SAM 3's processor makes them: resized, rescaled, normalised."""
        side = self.size
        stack = np.stack(
            [
                np.asarray(frame.convert("RGB").resize((side, side), Image.Resampling.BILINEAR))
                for frame in frames
            ]
        )
        pixels = torch.from_numpy(stack).permute(0, 3, 1, 2).float().div_(255.0)
        return pixels.sub_(PIXEL_MEAN).div_(PIXEL_STD)


def _pretrained(source: str, device: str, dtype: torch.dtype) -> tuple[Any, Any]:
    """SAM 3 and its tokenizer from a hub id or a folder, or a ModelLoadError saying the fix."""
    from transformers import AutoTokenizer, Sam3VideoModel

    from worker.model_sources import ModelLoadError

    try:
        model = Sam3VideoModel.from_pretrained(source, dtype=dtype).to(device).eval()
        tokenizer = AutoTokenizer.from_pretrained(source)
    except Exception as exc:  # a missing or torn folder, a gated repo without a token, memory
        lines = str(exc).strip().splitlines()
        first = lines[0] if lines else type(exc).__name__
        raise ModelLoadError(
            f"{REGIONS_SETTING}={source}: can't load the region finder's model: {first}; pull "
            f"{REGIONS_MODEL} (gated: accept its licence on the hub, then pull with a token) or "
            "set it to a folder saved with save_pretrained (model and tokenizer)",
            member_hint=NO_FINDER_HINT,
        ) from exc
    return model, tokenizer


def sample_indices(count: int, limit: int) -> list[int]:
    """`count` frames' indices, or `limit` of them evenly spaced with the first and last."""
    if count <= limit:
        return list(range(count))
    return sorted({round(i * (count - 1) / (limit - 1)) for i in range(limit)})


def spread(masks: Sequence[np.ndarray], picks: Sequence[int], count: int) -> np.ndarray:
    """Masks at `picks` laid out over `count` frames; a frame between two picks gets both."""
    height, width = masks[0].shape
    out = np.zeros((count, height, width), dtype=bool)
    for k, index in enumerate(picks):
        out[index] = masks[k]
        if k + 1 < len(picks):
            out[index + 1 : picks[k + 1]] = masks[k] | masks[k + 1]
    return out


def _upsample(low: torch.Tensor | None, height: int, width: int) -> np.ndarray:
    """Mask logits at the model's resolution -> bool at the frame's (bilinear, as SAM 3's)."""
    if low is None:
        return np.zeros((height, width), dtype=bool)
    full = torch.nn.functional.interpolate(
        low[None, None], size=(height, width), mode="bilinear", align_corners=False
    )
    return (full[0, 0] > 0).numpy()
