"""A tiny, randomly initialised SAM 3 video model (`builtin:tiny`), made in code, no download.

The real `Sam3VideoModel` (detector, CLIP text encoder, tracker, memory) with every width cut
down, so `worker.regions` runs its production code on a CPU in tests, CI and the local stack.
Its masks mean nothing, but every step a real edit's region finding takes is real.
`write_tiny_regions` saves it in the hub's layout (model + tokenizer), so the production
`from_pretrained` branch is tested offline too.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

_SIZE = 56  # input frames' side: 4 x 4 patches of 14 pixels, as SAM 3's 1008 is 72 x 72
_PATCH = 14
_WIDTH = 128  # detector, FPN and tracker width; the tracker's memory is 64 wide and must be less
_SEED = 0


def tiny_config() -> Any:  # a transformers.Sam3VideoConfig
    """SAM 3's shape at 1/9 the input size and a sliver of its widths and depths."""
    from transformers import Sam3VideoConfig

    from worker.backends.common import clip_vocab

    vocab = clip_vocab()
    feat = _SIZE // _PATCH
    vit = {
        "model_type": "sam3_vit_model",
        "hidden_size": 32,
        "intermediate_size": 64,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
        "image_size": _SIZE,
        "patch_size": _PATCH,
        "window_size": feat // 2,
        "global_attn_indexes": [1],
        "pretrain_image_size": _SIZE,
    }
    vision = {
        "model_type": "sam3_vision_model",
        "backbone_config": vit,
        "fpn_hidden_size": _WIDTH,
        "backbone_feature_sizes": [[4 * feat] * 2, [2 * feat] * 2, [feat] * 2],
    }
    small = {"hidden_size": _WIDTH, "num_attention_heads": 2, "intermediate_size": 2 * _WIDTH}
    detector = {
        "model_type": "sam3",
        "vision_config": vision,
        "text_config": {
            "model_type": "clip_text_model",
            "vocab_size": len(vocab),
            "hidden_size": 32,
            "intermediate_size": 64,
            "projection_dim": 32,
            "num_hidden_layers": 1,
            "num_attention_heads": 2,
            "max_position_embeddings": 32,  # SAM 3 reads 32 tokens
            "bos_token_id": vocab["<|startoftext|>"],
            "eos_token_id": vocab["<|endoftext|>"],
            "pad_token_id": vocab["<|endoftext|>"],
        },
        "geometry_encoder_config": {**small, "num_layers": 1},
        "detr_encoder_config": {**small, "num_layers": 1},
        "detr_decoder_config": {**small, "num_layers": 1, "num_queries": 4},
        "mask_decoder_config": {"hidden_size": _WIDTH, "num_attention_heads": 2},
    }
    tracker = {
        "model_type": "sam3_tracker_video",
        "vision_config": vision,
        "image_size": _SIZE,
        "prompt_encoder_config": {"hidden_size": _WIDTH, "image_size": _SIZE},
        "mask_decoder_config": {
            "hidden_size": _WIDTH,
            "mlp_dim": 2 * _WIDTH,
            "num_hidden_layers": 1,
            "num_attention_heads": 2,
            "iou_head_hidden_dim": _WIDTH,
        },
        "memory_attention_hidden_size": _WIDTH,
        "memory_attention_num_layers": 1,
        "memory_attention_feed_forward_hidden_size": 2 * _WIDTH,
        "memory_encoder_hidden_size": _WIDTH,
        "mask_downsampler_embed_dim": _WIDTH,
        "memory_fuser_embed_dim": _WIDTH,
        "memory_fuser_intermediate_dim": 2 * _WIDTH,
        "num_maskmem": 3,
        "max_object_pointers_in_encoder": 4,
    }
    return Sam3VideoConfig(
        detector_config=detector,
        tracker_config=tracker,
        low_res_mask_size=4 * feat,
        hotstart_delay=0,  # the real model holds 15 frames back to drop flickers; noise flickers
        max_num_objects=2,  # each tracked instance costs a tracker pass a frame
    )


def build_tiny_regions() -> tuple[Any, Any]:
    """(model, tokenizer): every weight drawn from a fixed seed, the same in every process."""
    from transformers import Sam3VideoModel

    from worker.backends.common import clip_tokenizer, seeded_build

    with seeded_build(_SEED):
        model = Sam3VideoModel(tiny_config())
    return model.eval(), clip_tokenizer()


def write_tiny_regions(folder: Path) -> Path:
    """The tiny model saved as `facebook/sam3` is laid out (config, safetensors, tokenizer)."""
    model, tokenizer = build_tiny_regions()
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder
