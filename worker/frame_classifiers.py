"""The frame classifiers `worker.scan` can use, chosen with REELBOT_SCAN_CLASSIFIERS.

- `nudenet`: NudeNet's 320 px ONNX detector (in the `nudenet` wheel, run with onnxruntime on
  CPU). A category's score is the detector's highest class score anywhere in the frame for the
  body-part classes of that category. NudeNet is AGPL-3.0, so it is an optional extra
  (`reelbot[nsfw]`) and off by default.
- `clip`: zero-shot with a CLIP model (REELBOT_SCAN_CLIP_MODEL: a model id or folder, or
  `builtin:tiny`, a randomly initialised one built in code for tests). Each category has a few
  text prompts; the frame's softmax over all prompts, summed per category, is its score. It is
  the only one that scores `minor` and `violence`.
- `none`: no scanning.

Several may run together ("nudenet,clip"); `worker.scan` keeps the higher score per category.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from worker.scan import FrameClassifier

NAMES = ("nudenet", "clip", "none")
TINY_CLIP = "builtin:tiny"

# NudeNet 3.4's classes, in its output order (rows 4.. of the detector's output).
NUDENET_LABELS = (
    "FEMALE_GENITALIA_COVERED",
    "FACE_FEMALE",
    "BUTTOCKS_EXPOSED",
    "FEMALE_BREAST_EXPOSED",
    "FEMALE_GENITALIA_EXPOSED",
    "MALE_BREAST_EXPOSED",
    "ANUS_EXPOSED",
    "FEET_EXPOSED",
    "BELLY_COVERED",
    "FEET_COVERED",
    "ARMPITS_COVERED",
    "ARMPITS_EXPOSED",
    "FACE_MALE",
    "BELLY_EXPOSED",
    "MALE_GENITALIA_EXPOSED",
    "ANUS_COVERED",
    "FEMALE_BREAST_COVERED",
    "BUTTOCKS_COVERED",
)
NUDENET_CATEGORIES: Mapping[str, tuple[str, ...]] = {
    "nudity": (
        "FEMALE_GENITALIA_EXPOSED",
        "MALE_GENITALIA_EXPOSED",
        "FEMALE_BREAST_EXPOSED",
        "ANUS_EXPOSED",
        "BUTTOCKS_EXPOSED",
    ),
    "suggestive": (
        "FEMALE_GENITALIA_COVERED",
        "FEMALE_BREAST_COVERED",
        "BUTTOCKS_COVERED",
        "ANUS_COVERED",
    ),
}
# Zero-shot prompts per category; "safe" ones give the softmax somewhere else to go.
CLIP_PROMPTS: Mapping[str, tuple[str, ...]] = {
    "nudity": ("a photo of a naked person", "explicit nudity", "a nude body"),
    "minor": ("a photo of a child", "a photo of a young kid", "a baby"),
    "violence": ("graphic violence", "a bloody wound", "gore and blood"),
    "safe": (
        "a photo",
        "a landscape",
        "an animal",
        "an everyday object",
        "a clothed adult",
        "a cartoon",
    ),
}


class UnknownClassifier(ValueError):
    """A name in REELBOT_SCAN_CLASSIFIERS that is not one of NAMES."""


class NudeNetClassifier:
    name = "nudenet"
    categories = tuple(NUDENET_CATEGORIES)
    size = 320

    def __init__(self) -> None:
        try:
            import nudenet
            import onnxruntime
        except ImportError as exc:
            raise ImportError(
                "the nudenet classifier needs the `nsfw` extra: pip install 'reelbot[nsfw]' "
                "(NudeNet is AGPL-3.0)"
            ) from exc
        model = os.path.join(os.path.dirname(nudenet.__file__), "320n.onnx")
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = min(4, os.cpu_count() or 1)
        self.session = onnxruntime.InferenceSession(
            model, options, providers=["CPUExecutionProvider"]
        )
        self.input = self.session.get_inputs()[0].name
        rows = {label: i for i, label in enumerate(NUDENET_LABELS)}
        self.rows = {c: [rows[label] for label in ls] for c, ls in NUDENET_CATEGORIES.items()}

    def _blob(self, frame: np.ndarray) -> np.ndarray:
        """NudeNet's input: the frame padded to a square at its bottom right, 320 px, 0..1."""
        from PIL import Image

        h, w = frame.shape[:2]
        side = max(h, w)
        square = np.zeros((side, side, 3), np.uint8)
        square[:h, :w] = frame[..., :3]
        small = Image.fromarray(square).resize((self.size, self.size), Image.Resampling.BILINEAR)
        return np.asarray(small, np.float32).transpose(2, 0, 1) / 255.0

    def score(self, frames: Sequence[np.ndarray]) -> list[dict[str, float]]:
        if not frames:
            return []
        batch = np.stack([self._blob(frame) for frame in frames])
        (out,) = self.session.run(None, {self.input: batch})  # (frames, 4 + classes, anchors)
        best = out[:, 4:, :].max(axis=2)  # each class's highest score anywhere in the frame
        return [{c: float(row[idx].max()) for c, idx in self.rows.items()} for row in best]


class ClipZeroShot:
    name = "clip"
    categories = tuple(c for c in CLIP_PROMPTS if c != "safe")

    def __init__(self, model: str, *, device: str = "cpu") -> None:
        import torch

        self.torch = torch
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        self.device = torch.device(device)
        if model == TINY_CLIP:
            self.model, self.processor = tiny_clip()
        else:
            from transformers import CLIPModel, CLIPProcessor

            self.model = CLIPModel.from_pretrained(model)
            self.processor = CLIPProcessor.from_pretrained(model)
        self.model.to(self.device).eval()
        self.labels = [c for c, prompts in CLIP_PROMPTS.items() for _ in prompts]
        texts = [p for prompts in CLIP_PROMPTS.values() for p in prompts]
        with torch.inference_mode():
            tokens = self.processor(text=texts, return_tensors="pt", padding=True)
            tokens = {k: v.to(self.device) for k, v in tokens.items()}
            found = self.model.get_text_features(**tokens)
            text = found if isinstance(found, torch.Tensor) else found.pooler_output
            self.text = text / text.norm(dim=-1, keepdim=True)

    def score(self, frames: Sequence[np.ndarray]) -> list[dict[str, float]]:
        if not frames:
            return []
        torch = self.torch
        with torch.inference_mode():
            pixels = self.processor(images=[np.asarray(f) for f in frames], return_tensors="pt")
            found = self.model.get_image_features(
                pixel_values=pixels["pixel_values"].to(self.device)
            )
            image = found if isinstance(found, torch.Tensor) else found.pooler_output
            image = image / image.norm(dim=-1, keepdim=True)
            logits = self.model.logit_scale.exp() * image @ self.text.T
            probs = logits.softmax(dim=-1).float().cpu().numpy()
        out = []
        for row in probs:
            sums: dict[str, float] = {}
            for label, p in zip(self.labels, row, strict=True):
                sums[label] = sums.get(label, 0.0) + float(p)
            out.append({c: sums[c] for c in self.categories})
        return out


def tiny_clip() -> tuple[Any, Any]:
    """A randomly initialised CLIP built from config (offline): scores are meaningless but real."""
    from transformers import (
        CLIPConfig,
        CLIPImageProcessorPil,
        CLIPModel,
        CLIPProcessor,
        CLIPTextConfig,
        CLIPVisionConfig,
    )

    from worker.backends.common import clip_tokenizer, clip_vocab, seeded_build

    vocab = clip_vocab()
    text = CLIPTextConfig(
        vocab_size=len(vocab),
        hidden_size=32,
        intermediate_size=37,
        num_attention_heads=4,
        num_hidden_layers=2,
        max_position_embeddings=77,
        bos_token_id=vocab["<|startoftext|>"],
        eos_token_id=vocab["<|endoftext|>"],
        pad_token_id=vocab["<|endoftext|>"],
    )
    vision = CLIPVisionConfig(
        hidden_size=32,
        intermediate_size=37,
        num_attention_heads=4,
        num_hidden_layers=2,
        image_size=32,
        patch_size=8,
    )
    with seeded_build(0):
        model = CLIPModel(
            CLIPConfig(
                text_config=text.to_dict(), vision_config=vision.to_dict(), projection_dim=16
            )
        )
    images = CLIPImageProcessorPil(
        size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}
    )
    return model, CLIPProcessor(image_processor=images, tokenizer=clip_tokenizer())


def load_classifiers(
    names: Sequence[str], *, clip_model: str | None = None, device: str = "cpu"
) -> list[FrameClassifier]:
    """The classifiers named (in settings), loaded once per worker; [] for "none"."""
    loaded: list[FrameClassifier] = []
    for name in dict.fromkeys(n.strip().lower() for n in names if n.strip()):
        if name == "none":
            continue
        if name == "nudenet":
            loaded.append(NudeNetClassifier())
        elif name == "clip":
            if not clip_model:
                raise ValueError(
                    "the clip classifier needs REELBOT_SCAN_CLIP_MODEL (a CLIP model id or folder)"
                )
            loaded.append(ClipZeroShot(clip_model, device=device))
        else:
            raise UnknownClassifier(f"unknown frame classifier {name!r}; use one of {NAMES}")
    return loaded
