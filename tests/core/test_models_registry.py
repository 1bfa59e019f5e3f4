"""The model registry covers every family, with one setting per repository and no duplicates."""

from __future__ import annotations

from fnmatch import fnmatch

import pytest

from core.capabilities import FAMILIES
from core.models import MODELS, camera_lora_repo, family_models


def test_every_family_has_an_entry() -> None:
    assert set(MODELS) == set(FAMILIES)


@pytest.mark.parametrize("family", [f for f in MODELS if f != "tiny"])
def test_main_repo_first_with_the_model_setting(family: str) -> None:
    entry = family_models(family)
    assert entry.main.setting == "model"
    assert entry.vram_bf16_gb and entry.download_gb > 0
    for repo in entry.repos:
        assert repo.licence and repo.source and repo.variable.startswith("REELBOT_")
        assert repo.checked, f"{repo.repo_id}: say what was verified, and where"


def _kept(repo_files: list[str], allow: tuple[str, ...], ignore: tuple[str, ...]) -> list[str]:
    return [
        f
        for f in repo_files
        if any(fnmatch(f, p) for p in allow) and not any(fnmatch(f, p) for p in ignore)
    ]


def test_pull_keeps_one_precision_and_no_single_file_checkpoints() -> None:
    main = family_models("svd").main
    files = [
        "model_index.json",
        "svd_xt.safetensors",
        "unet/config.json",
        "unet/diffusion_pytorch_model.safetensors",
        "unet/diffusion_pytorch_model.fp16.safetensors",
        "image_encoder/model.safetensors",
        "image_encoder/pytorch_model.bin",
    ]
    assert _kept(files, main.allow_patterns, main.ignore_patterns) == [
        "model_index.json",
        "unet/config.json",
        "unet/diffusion_pytorch_model.safetensors",
        "image_encoder/model.safetensors",
    ]


def test_ltx_and_animatediff_list_their_auxiliary_repositories() -> None:
    ltx = {r.setting: r.repo_id for r in family_models("ltx").repos}
    assert ltx["ltx_upsampler_model"] == "Lightricks/ltxv-spatial-upscaler-0.9.7"
    ad = family_models("animatediff").repos
    assert {r.setting for r in ad} == {
        "model",
        "animatediff_motion_adapter",
        "animatediff_motion_loras",
    }
    assert camera_lora_repo("zoom-in") in {r.repo_id for r in ad}


def test_licences_that_limit_commercial_use_say_so() -> None:
    """LTX-Video, LTX-2 and SVD weights are not free for every commercial use; Wan is Apache."""
    for family in ("ltx", "ltx2", "svd"):
        assert "Commercial use" in family_models(family).licence, family
    assert family_models("wan").licence == "Apache-2.0"


def test_unknown_family_names_the_known_ones() -> None:
    with pytest.raises(ValueError, match="known: animatediff"):
        family_models("sora")
