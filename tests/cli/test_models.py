"""`reelbot models` lists every family and where its repositories are; `reelbot models check`
builds each family's pipeline on the meta device and names what is wrong with a folder."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from cli.models import CheckFailed, check, listing
from cli.tiny_models import write_tiny
from core.models import MODELS
from tests.harness.cli import reelbot

FAMILIES = [f for f in MODELS if f != "tiny"]
MAIN = {f: MODELS[f].main.folder for f in FAMILIES}


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("models")
    for family in FAMILIES:
        write_tiny(family, root)
    return root


def test_the_list_names_every_repository_its_setting_and_where_it_is(models_dir: Path) -> None:
    shown = listing(MODELS, models_dir, cached={"openai/clip-vit-large-patch14"})
    for family in MODELS:
        assert f"\n{family}: " in f"\n{shown}"
    assert (
        "spatial upsampler: Lightricks/ltxv-spatial-upscaler-0.9.7  0.51 GB  "
        "[REELBOT_LTX_UPSAMPLER_MODEL]  "
        f"pulled: {models_dir}/Lightricks/ltxv-spatial-upscaler-0.9.7"
    ) in shown
    assert "ltx: 48.21 GB to download, VRAM 40 GB bf16, 27 GB FP8" in shown
    assert "\n  licence: Apache-2.0\n" in shown
    ltx_licence = next(line for line in shown.splitlines() if "LTX-Video Open Weights" in line)
    assert "Commercial use needs a paid licence from Lightricks" in ltx_licence
    assert "US$10M" in ltx_licence
    nowhere = listing(MODELS, None, cached=set())
    assert "[REELBOT_ANIMATEDIFF_MOTION_ADAPTER]  not downloaded" in nowhere


def test_reelbot_models_runs(tmp_path: Path, models_dir: Path) -> None:
    result = reelbot(
        "models", env={"REELBOT_MODELS_DIR": str(models_dir), "HF_HOME": str(tmp_path)}
    )
    assert result.returncode == 0, result.stderr
    assert f"pulled: {models_dir}/Wan-AI/Wan2.2-TI2V-5B-Diffusers" in result.stdout


@pytest.mark.parametrize("family", FAMILIES)
def test_check_builds_each_family_on_meta_and_counts_parameters(
    family: str, models_dir: Path
) -> None:
    found, lines = check(models_dir / MAIN[family], family=family, precision="bf16", vram_gb=None)
    assert found == family
    denoiser = next(line for line in lines if "transformer" in line or " unet " in line)
    counted = re.search(r"([\d,]+) params", denoiser)
    assert counted and int(counted[1].replace(",", "")) > 1000, denoiser


def test_check_names_a_wrong_family(models_dir: Path) -> None:
    with pytest.raises(CheckFailed, match=r"holds a LTXConditionPipeline \(ltx\), not a wan model"):
        check(models_dir / MAIN["ltx"], family="wan", precision="bf16", vram_gb=None)


def test_check_names_a_missing_weights_file(models_dir: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(models_dir / MAIN["wan"], broken)
    for weights in (broken / "transformer").glob("*.safetensors"):
        weights.unlink()
    with pytest.raises(CheckFailed, match=r"missing file: .*broken/transformer/\*\.safetensors"):
        check(broken, family="wan", precision="bf16", vram_gb=None)
    shutil.rmtree(broken / "vae")
    (broken / "transformer" / "x.safetensors").write_bytes(b"")
    with pytest.raises(
        CheckFailed, match=r"missing folder: .*broken/vae \(model_index.json lists vae\)"
    ):
        check(broken, family="wan", precision="bf16", vram_gb=None)


def test_check_says_a_precision_wont_fit(models_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(CheckFailed, match=r"bf16 weights need .* GB, more than --vram-gb 1e-06"):
        check(models_dir / MAIN["svd"], family="svd", precision="bf16", vram_gb=1e-6)
    result = reelbot(
        "models",
        "check",
        str(models_dir / MAIN["ltx"]),
        "--family",
        "svd",
        env={"HF_HOME": str(tmp_path)},
    )
    assert result.returncode == 1
    assert "not a svd model; set REELBOT_BACKEND=ltx" in result.stderr
    assert "Traceback" not in result.stderr
