"""`reelbot models pull` against the local fake hub: exactly the files the pipelines load, one
folder per repository under REELBOT_MODELS_DIR, a dropped connection resumed in place, and `--tiny`.

The fake hub (tests/harness/fakehub.py) serves LTX's tiny model as `cli.tiny_models` writes it,
plus what a real repository also holds and a pull must leave behind: a root single-file
checkpoint, a second precision, a README.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from cli.models_pull import PullError, add_pull_command, describe, pull
from cli.tiny_models import write_tiny
from core.models import family_models
from tests.harness.fakehub import FakeHub

pytestmark = [pytest.mark.timeout(180)]

MAIN = "Lightricks/LTX-Video-0.9.7-distilled"
UPSAMPLER = "Lightricks/ltxv-spatial-upscaler-0.9.7"
# On the real repositories beside the diffusers folders; never needed by the pipelines.
EXTRA = {
    MAIN: ["ltxv-13b-0.9.7-distilled.safetensors", "transformer/model.fp16.safetensors"],
    UPSAMPLER: ["ltxv-spatial-upscaler-0.9.7.safetensors"],
}


@pytest.fixture(scope="module")
def tiny_ltx(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """LTX's repositories as the hub holds them: the tiny model plus files a pull must skip."""
    root = tmp_path_factory.mktemp("hub")
    write_tiny("ltx", root)
    for repo, names in EXTRA.items():
        for name in names:
            (root / repo / name).write_bytes(b"\0" * 4096)
        (root / repo / "README.md").write_text("# model card\n")
    return root


@pytest.fixture(autouse=True)
def online(monkeypatch: pytest.MonkeyPatch) -> None:
    """The suite runs with HF_HUB_OFFLINE=1; a pull here reaches only the fake hub (endpoint=)."""
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)


@pytest.fixture
def hub(tiny_ltx: Path) -> Iterator[FakeHub]:
    with FakeHub({repo: tiny_ltx / repo for repo in (MAIN, UPSAMPLER)}) as hub:
        yield hub


def files(folder: Path) -> dict[str, str]:
    """path -> sha256 of every file a pipeline would read (huggingface_hub's own records aside)."""
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and ".cache" not in p.relative_to(folder).parts
    }


def test_pull_fetches_exactly_the_pipeline_files_into_one_folder_per_repository(
    hub: FakeHub, tiny_ltx: Path, tmp_path: Path
) -> None:
    into = tmp_path / "models"
    pulled = pull("ltx", into=into, endpoint=hub.url, progress=False)

    for repo in (MAIN, UPSAMPLER):
        expected = {
            path: sha
            for path, sha in files(tiny_ltx / repo).items()
            if path not in EXTRA[repo] and path != "README.md"
        }
        assert files(into / repo) == expected  # byte for byte, and nothing else
        fetched = {path for path, _ in hub.gets(repo)}
        assert fetched == set(expected)  # the checkpoints and the card never crossed the wire
    assert [line.split(" (")[0] for line in describe(pulled)] == [
        f"main: {MAIN} -> {into / MAIN}",
        f"spatial upsampler: {UPSAMPLER} -> {into / UPSAMPLER}",
    ]
    assert [p.files for p in pulled] == [10, 3]
    model_index = json.loads((into / MAIN / "model_index.json").read_text())
    assert model_index["_class_name"] == "LTXConditionPipeline"


def test_a_second_pull_downloads_nothing(hub: FakeHub, tmp_path: Path) -> None:
    into = tmp_path / "models"
    pull("ltx", into=into, endpoint=hub.url, progress=False)
    before = len(hub.requests)
    pull("ltx", into=into, endpoint=hub.url, progress=False)
    again = hub.requests[before:]
    assert [r for r in again if r[0] == "GET" and "/resolve/" in r[1]] == []


def test_a_dropped_connection_resumes_the_file_where_it_stopped(
    hub: FakeHub, tiny_ltx: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """huggingface_hub writes a download in 10 MiB chunks and resumes from the last one written;
    the tiny weights are smaller, so the chunk is shrunk to make the cut land past one."""
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "DOWNLOAD_CHUNK_SIZE", 4096)
    weights = "transformer/diffusion_pytorch_model.safetensors"
    size = (tiny_ltx / MAIN / weights).stat().st_size
    cut = size // 2
    hub.drop_once(MAIN, weights, after=cut)

    into = tmp_path / "models"
    pull("ltx", into=into, endpoint=hub.url, progress=False)

    assert (into / MAIN / weights).read_bytes() == (tiny_ltx / MAIN / weights).read_bytes()
    ranges = [rng for path, rng in hub.gets(MAIN) if path == weights]
    assert ranges[0] is None and len(ranges) == 2
    resumed_at = int(ranges[1].removeprefix("bytes=").removesuffix("-"))
    assert 0 < resumed_at <= cut  # the second request asked only for the rest
    assert hub.bytes_sent[f"{MAIN}/{weights}"] == cut + size - resumed_at


def test_an_unknown_repository_names_the_setting_that_would_fix_it(
    tiny_ltx: Path, tmp_path: Path
) -> None:
    with FakeHub({MAIN: tiny_ltx / MAIN}) as hub, pytest.raises(PullError) as caught:
        pull("ltx", into=tmp_path, endpoint=hub.url, progress=False)
    assert str(caught.value) == (
        f"{UPSAMPLER} was not found on the hub ({hub.url}): if it is private, set "
        "HF_TOKEN; if it moved, set REELBOT_LTX_UPSAMPLER_MODEL to where it is now"
    )


def test_pull_offline_says_to_unset_hf_hub_offline(
    hub: FakeHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(PullError, match="HF_HUB_OFFLINE is set: pulling needs the hub; unset"):
        pull("ltx", into=tmp_path, endpoint=hub.url, progress=False)


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="reelbot models")
    add_pull_command(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(argv)


def test_pull_without_a_folder_says_which_setting_to_set(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("REELBOT_MODELS_DIR", raising=False)
    args = parse("pull", "ltx")
    with pytest.raises(PullError, match="REELBOT_MODELS_DIR is not set: set it to the folder"):
        args.run(args)


def test_pull_tiny_writes_every_repository_of_the_family_with_no_network(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    args = parse("pull", "animatediff", "--tiny", "--dir", str(tmp_path))
    assert args.run(args) == 0

    out = capsys.readouterr().out.splitlines()
    repos = family_models("animatediff").repos
    assert out[: len(repos)] == [
        f"{r.role}: tiny {r.repo_id} -> {tmp_path / r.repo_id}" for r in repos
    ]
    assert out[-1] == (
        f"ready: REELBOT_BACKEND=animatediff REELBOT_MODELS_DIR={tmp_path} "
        "(works with HF_HUB_OFFLINE=1)"
    )
    main = tmp_path / "emilianJR/epiCRealism"
    assert json.loads((main / "model_index.json").read_text())["unet"] == [
        "diffusers",
        "UNet2DConditionModel",
    ]
    assert sorted(files(tmp_path / "guoyww/animatediff-motion-adapter-v1-5-2")) == [
        "config.json",
        "diffusion_pytorch_model.safetensors",
    ]
    assert sorted(files(tmp_path / "guoyww/animatediff-motion-lora-pan-left")) == [
        "diffusion_pytorch_model.safetensors"
    ]
