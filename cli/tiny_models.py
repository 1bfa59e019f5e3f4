"""`reelbot models pull FAMILY --tiny`: the family's tiny random model, laid out as its hub repos.

Each backend builds its tiny pipeline in code (the `builtin:tiny` branch); here those very builders
are saved with `save_pretrained`, one folder per repository of `core.models.MODELS[family]` (the
main one and every auxiliary: LTX's spatial upsampler, AnimateDiff's motion adapter and camera
LoRAs; `scan`, the output scan's CLIP; `speech`, Dia and its codec), each laid out as its hub
repository is. Pointing the worker at them (`REELBOT_MODELS_DIR`, or
`REELBOT_MODEL=D/<org>/<name>`) runs the production `from_pretrained` branch offline, on a CPU,
in seconds. The tests' fake hub serves exactly these folders.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any
from unittest import mock

from core.models import (
    CAMERA_LORA,
    CAMERA_LORA_NAMES,
    CLIP_SCAN,
    MAIN,
    MOTION_ADAPTER,
    REGION_FINDER,
    SCAN,
    SPEECH,
    TTS,
    TTS_CODEC,
    UPSAMPLER,
    Repo,
    family_models,
)


def write_tiny(family: str, into: Path) -> list[tuple[Repo, Path]]:
    """Write every repository of `family` under `into/<Repo.folder>`; returns where each went."""
    models = family_models(family)
    if family not in _WRITERS:
        raise ValueError(f"the {family} family has no tiny model to write (it needs none)")
    folders = {repo.role: into / repo.folder for repo in models.repos}
    _WRITERS[family](folders)
    return [(repo, folders[repo.role]) for repo in models.repos]


def _ltx(folders: dict[str, Path]) -> None:
    """The main repository is an `LTXConditionPipeline` (as Lightricks' 0.9.7 ones are); the
    upsampler repository holds only `latent_upsampler/` and a model index without a VAE."""
    from diffusers import LTXConditionPipeline, LTXLatentUpsamplePipeline

    from worker.backends.ltx import _tiny_upsampler
    from worker.backends.tiny import _build_pipeline

    pipe = _build_pipeline()
    LTXConditionPipeline(**pipe.components).save_pretrained(folders[MAIN])
    upsampler = _tiny_upsampler(pipe.vae)
    LTXLatentUpsamplePipeline(vae=None, latent_upsampler=upsampler).save_pretrained(
        folders[UPSAMPLER]
    )


def _saved(build: Callable[[], Any]) -> Callable[[dict[str, Path]], None]:
    """A family whose one repository is its whole pipeline (wan, svd, ltx2)."""

    def write(folders: dict[str, Path]) -> None:
        build().save_pretrained(folders[MAIN])

    return write


def _wan() -> Any:
    from worker.backends.wan import _build_tiny

    return _build_tiny()


def _wan_vace(folders: dict[str, Path]) -> None:
    """The VACE pipeline, and the region finder's tiny SAM 3 video model beside it."""
    from worker.backends.wan_vace import _build_tiny
    from worker.regions_tiny import write_tiny_regions

    _build_tiny().save_pretrained(folders[MAIN])
    write_tiny_regions(folders[REGION_FINDER])


def _svd() -> Any:
    from worker.backends.svd import _build_tiny

    return _build_tiny()


def _ltx2() -> Any:
    from worker.backends.ltx2 import _build_tiny

    return _build_tiny()


def _animatediff(folders: dict[str, Path]) -> None:
    """A Stable Diffusion 1.5 pipeline (the 2D UNet the motion adapter is merged into at load),
    the motion adapter on its own, and each camera LoRA as `diffusion_pytorch_model.safetensors`
    (the guoyww repositories' file name)."""
    import diffusers
    from diffusers import AnimateDiffPipeline, StableDiffusionPipeline
    from peft.utils import get_peft_model_state_dict
    from transformers import CLIPImageProcessor

    from worker.backends import animatediff

    built: dict[str, Any] = {}

    class Capture(AnimateDiffPipeline):  # type: ignore[misc]
        """Keeps the components the builder passes in, the 2D UNet before it is wrapped."""

        def __init__(self, **components: Any) -> None:
            built.update(components)
            super().__init__(**components)

    with mock.patch.object(diffusers, "AnimateDiffPipeline", Capture):
        pipe = animatediff._build_tiny()
    StableDiffusionPipeline(
        vae=built["vae"],
        text_encoder=built["text_encoder"],
        tokenizer=built["tokenizer"],
        unet=built["unet"],
        scheduler=built["scheduler"],
        safety_checker=None,
        feature_extractor=CLIPImageProcessor(),
        requires_safety_checker=False,
    ).save_pretrained(folders[MAIN])
    pipe.motion_adapter.save_pretrained(folders[MOTION_ADAPTER])
    for name in CAMERA_LORA_NAMES:
        layers = get_peft_model_state_dict(pipe.unet, adapter_name=name)
        AnimateDiffPipeline.save_lora_weights(
            folders[f"{CAMERA_LORA} {name}"],
            unet_lora_layers=layers,
            weight_name="diffusion_pytorch_model.safetensors",
        )


def _scan(folders: dict[str, Path]) -> None:
    """The scan's tiny random CLIP (`worker.frame_classifiers.tiny_clip`): model and processor
    saved as openai/clip-vit-large-patch14 is laid out (config, safetensors, tokenizer files)."""
    from worker.frame_classifiers import tiny_clip

    model, processor = tiny_clip()
    model.save_pretrained(folders[CLIP_SCAN])
    processor.save_pretrained(folders[CLIP_SCAN])


def _speech(folders: dict[str, Path]) -> None:
    """The tiny Dia (`worker.speech_tiny`) as nari-labs/Dia-1.6B-0626 is laid out, its processor
    config naming the codec by the hub id the real one gives (descript/dac_44khz), and the tiny
    DAC in that repository's folder."""
    import json

    from core.models import DAC_ID
    from worker.speech_tiny import build_tiny_speech

    model, processor = build_tiny_speech()
    model.save_pretrained(folders[TTS])
    processor.save_pretrained(folders[TTS])
    processor.audio_tokenizer.save_pretrained(folders[TTS_CODEC])
    config = folders[TTS] / "processor_config.json"
    saved = json.loads(config.read_text())
    saved["audio_tokenizer"]["audio_tokenizer_name_or_path"] = DAC_ID
    config.write_text(json.dumps(saved, indent=2))


_WRITERS: dict[str, Callable[[dict[str, Path]], None]] = {
    SCAN: _scan,
    SPEECH: _speech,
    "ltx": _ltx,
    "wan": _saved(_wan),
    "svd": _saved(_svd),
    "ltx2": _saved(_ltx2),
    "wan_vace": _wan_vace,
    "animatediff": _animatediff,
}
