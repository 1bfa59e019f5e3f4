"""`reelbot models` as an operator runs it from the README: settings from `.env` as the worker
reads them, a real repository's layout checked as the pipelines load it, a hub id checked from
its configs, and bad input answered in one line that names the fix, never a traceback."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cli.models import check
from cli.tiny_models import write_tiny
from tests.harness.fakehub import FakeHub

pytestmark = [pytest.mark.timeout(240)]

MAIN = "Lightricks/LTX-Video-0.9.7-distilled"


def reelbot_in(cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """`reelbot …` started in `cwd` (where an operator keeps `.env`), REELBOT_MODELS_DIR unset."""
    environ = {k: v for k, v in os.environ.items() if k != "REELBOT_MODELS_DIR"}
    return subprocess.run(
        [sys.executable, "-m", "cli.main", *args],
        capture_output=True,
        text=True,
        timeout=200,
        cwd=cwd,
        env={**environ, "HF_HUB_OFFLINE": "1", "HF_HOME": str(cwd / "hf"), **env},
        check=False,
    )


@pytest.fixture(scope="module")
def tiny_ltx(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("ltx")
    write_tiny("ltx", root)
    return root


def test_pull_list_and_check_read_the_models_dir_from_dot_env(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("REELBOT_MODELS_DIR=models\n")

    pulled = reelbot_in(tmp_path, "models", "pull", "ltx", "--tiny")
    assert pulled.returncode == 0, pulled.stderr
    assert (tmp_path / "models" / MAIN / "model_index.json").is_file()

    listed = reelbot_in(tmp_path, "models")
    assert f"[REELBOT_MODEL]  pulled: models/{MAIN}" in listed.stdout, listed.stdout

    checked = reelbot_in(tmp_path, "models", "check", MAIN, "--family", "ltx")
    assert checked.returncode == 0, checked.stderr
    assert checked.stdout.startswith(f"models/{MAIN}: LTXConditionPipeline (ltx)")


def test_check_passes_sd15_with_the_safety_checker_pull_leaves_behind(tmp_path: Path) -> None:
    """epiCRealism's model index lists a safety checker; AnimateDiff never loads it, so the
    pull skips it, and check must not call the pulled folder broken for it."""
    write_tiny("animatediff", tmp_path)
    main = tmp_path / "emilianJR/epiCRealism"
    index = json.loads((main / "model_index.json").read_text())
    index["safety_checker"] = ["stable_diffusion", "StableDiffusionSafetyChecker"]
    (main / "model_index.json").write_text(json.dumps(index))

    found, lines = check(main, family=None, precision="bf16", vram_gb=None)
    assert found == "animatediff"
    assert not any("safety_checker" in line for line in lines)


def test_check_a_hub_id_reads_its_configs_without_the_weights(
    tiny_ltx: Path, tmp_path: Path
) -> None:
    with FakeHub({MAIN: tiny_ltx / MAIN}) as hub:
        result = reelbot_in(
            tmp_path, "models", "check", MAIN, HF_ENDPOINT=hub.url, HF_HUB_OFFLINE="0"
        )
        fetched = {path for path, _ in hub.gets(MAIN)}
    assert result.returncode == 0, result.stderr
    assert "LTXConditionPipeline (ltx)" in result.stdout
    assert "the weight files were not downloaded or checked" in result.stdout
    assert not any(path.endswith(".safetensors") for path in fetched)


def test_a_missing_shard_names_the_file_and_the_pull_that_fetches_it(
    tiny_ltx: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "ltx"
    shutil.copytree(tiny_ltx / MAIN, folder)
    weights = folder / "transformer" / "diffusion_pytorch_model.safetensors"
    weights.rename(weights.with_name("diffusion_pytorch_model-00001-of-00002.safetensors"))
    (folder / "transformer" / "diffusion_pytorch_model.safetensors.index.json").write_text(
        json.dumps(
            {
                "weight_map": {
                    "a": "diffusion_pytorch_model-00001-of-00002.safetensors",
                    "b": "diffusion_pytorch_model-00002-of-00002.safetensors",
                }
            }
        )
    )
    result = reelbot_in(tmp_path, "models", "check", str(folder))
    assert result.returncode == 1
    assert result.stderr == (
        f"reelbot models check: missing file: {folder}/transformer/"
        "diffusion_pytorch_model-00002-of-00002.safetensors (named in "
        "diffusion_pytorch_model.safetensors.index.json); run `reelbot models pull ltx` again "
        "(it fetches only what is missing)\n"
    )


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (
            ("models", "check", "/no/such/folder"),
            "reelbot models check: no folder /no/such/folder: give a pipeline folder (one with "
            "model_index.json) or a hub id (owner/name)",
        ),
        (
            ("models", "check", "a/b/c"),
            "reelbot models check: a/b/c is neither a folder nor a hub id: give a pipeline "
            "folder (one with model_index.json) or a hub id (owner/name)",
        ),
        (
            ("models", "check", "someone/not-pulled"),
            "reelbot models check: someone/not-pulled is not in REELBOT_MODELS_DIR (unset) nor "
            "in the Hugging Face cache, and HF_HUB_OFFLINE is set: pull it (`reelbot models "
            "pull FAMILY`), or unset HF_HUB_OFFLINE",
        ),
        (
            ("models", "pull", "ltx", "--tiny", "--dir", "/proc/no-models-here"),
            "reelbot: can't write to /proc/no-models-here (No such file or directory): set "
            "--dir to a folder this user can write to",
        ),
    ],
)
def test_bad_input_is_one_line_naming_the_fix(
    args: tuple[str, ...], said: str, tmp_path: Path
) -> None:
    result = reelbot_in(tmp_path, *args)
    assert result.returncode != 0
    assert result.stderr.splitlines() == [said], result.stderr


def test_a_models_dir_that_is_a_file_names_the_setting(tmp_path: Path) -> None:
    (tmp_path / "models").write_text("not a folder")
    result = reelbot_in(tmp_path, "models", "pull", "wan", "--tiny", REELBOT_MODELS_DIR="models")
    assert result.returncode == 3
    assert result.stderr.startswith("reelbot: can't write to models (")
    assert result.stderr.endswith("set REELBOT_MODELS_DIR to a folder this user can write to\n")
