"""`reelbot up --model animatediff` on a machine without a GPU, as an operator runs it: it says
what the first clip will cost before anything starts, pulls the family's repositories (here from
the local fake hub, serving the tiny model in the real layout), then a real worker loads them
through the production `from_pretrained` branch and makes the first clip at the CPU plan's size.
Prepared again with the hub gone and HF_HUB_OFFLINE=1, nothing is pulled and the worker is
pointed at the same folder (that an offline worker renders from such a folder is
test_models_pull's, per family: a second whole `up` here spent a minute on the same render).

The test proves the wiring (pull -> worker -> clip), not the quality: the weights are tiny.
"""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from pathlib import Path

import av
import pytest

from cli.up_model import prepare
from core.capabilities import FAMILIES
from core.models import CPU_PLANS, family_models
from tests.e2e.test_models_pull import hub_folders
from tests.harness.cli import reelbot
from tests.harness.fakehub import FakeHub
from tests.harness.paths import ROOT

pytestmark = [pytest.mark.slow, pytest.mark.timeout(420)]

PLAN = CPU_PLANS["animatediff"]
UNSET = ("REELBOT_REDIS_URL", "REELBOT_BACKEND", "REELBOT_MODEL", "REELBOT_MODELS_DIR")


def up(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {
        "REELBOT_DATA_DIR": str(tmp_path / "data"),
        "REELBOT_GALLERY_PORT": "0",
        "REELBOT_DEVICE": "cpu",  # a machine without a GPU, whatever this one has
        "HF_HOME": str(tmp_path / "hf"),  # an empty Hugging Face cache
    }
    merged = {k: v for k, v in {**os.environ, **base, **env}.items() if k not in UNSET}
    return subprocess.run(
        [sys.executable, "-m", "cli.main", "up", "--once", *args],
        capture_output=True, text=True, timeout=400, env=merged, cwd=ROOT,
    )  # fmt: skip


def clip_of(stdout: str) -> Path:
    [line] = [line for line in stdout.splitlines() if line.startswith("file:")]
    return Path(line.split(":", 1)[1].strip())


def test_up_with_a_model_says_the_cost_pulls_it_and_makes_the_first_clip(tmp_path: Path) -> None:
    models = tmp_path / "data" / "models"  # REELBOT_MODELS_DIR unset: under the data folder
    repos = family_models("animatediff").repos
    main = repos[0].repo_id
    with FakeHub(hub_folders("animatediff", tmp_path / "hub")) as hub:
        first = up(tmp_path, "--model", "animatediff", HF_ENDPOINT=hub.url, HF_HUB_OFFLINE="0")
    assert first.returncode == 0, first.stdout + first.stderr
    out = first.stdout
    assert f"model:   {main} (animatediff)" in out
    cost = re.search(
        r"^cost:    no GPU, so the first clip is 256x256, 2 s \(16 frames rendered\), 10 steps: "
        r"about (\d+) min "
        r"on \d+ CPU cores and 7 GB of memory",
        out,
        re.M,
    )
    assert cost, out
    assert out.index("cost:") < out.index("models:  pulling") < out.index("making a first clip")
    for repo in repos:  # every repository, the auxiliary ones too, into the models folder
        assert f"models:  {repo.role}: {repo.repo_id} -> {models / repo.repo_id} (" in out
    assert re.search(r"^queued \S+ .*: 256x256, ", out, re.M), out
    # the worker loaded the pulled folder through from_pretrained, not the built-in model
    log = (tmp_path / "data" / "logs" / "worker-0.log").read_text()
    assert f"animatediff backend {models / main} on cpu" in log
    with av.open(str(clip_of(out))) as container:
        stream = container.streams.video[0]
        assert (stream.width, stream.height) == (PLAN.width, PLAN.height)
        frames = sum(1 for _ in container.decode(stream))
        assert frames / float(stream.average_rate) == PLAN.seconds

    # The hub is gone: everything is here, so nothing is pulled, and the worker is pointed at
    # the same folder as the first time.
    with pytest.MonkeyPatch.context() as env:
        for name in UNSET:
            env.delenv(name, raising=False)
        env.setenv("HF_HUB_OFFLINE", "1")
        env.setenv("HF_HOME", str(tmp_path / "hf"))
        env.setenv("REELBOT_DEVICE", "cpu")
        said = io.StringIO()
        again = prepare(main, data_dir=tmp_path / "data", out=said, progress=False)
    assert f"models:  animatediff is here ({main})" in said.getvalue()
    assert "pulling" not in said.getvalue()
    assert again.family == "animatediff"
    assert again.worker_env["REELBOT_MODELS_DIR"] == str(models)


def test_a_family_without_a_cpu_plan_is_refused_before_any_download(tmp_path: Path) -> None:
    result = up(tmp_path, "--model", "ltx", HF_HUB_OFFLINE="1")
    assert result.returncode == 3
    [said] = [line for line in result.stderr.splitlines() if line.startswith("reelbot:")]
    assert "the ltx family has no CPU plan" in said and "--model animatediff" in said
    assert not (tmp_path / "data" / "models").exists()


def test_a_folder_that_is_no_pipeline_is_named(tmp_path: Path) -> None:
    result = reelbot(
        "up", "--once", "--model", str(tmp_path), env={"REELBOT_DATA_DIR": str(tmp_path / "d")}
    )
    assert result.returncode == 3
    assert f"reelbot: --model {tmp_path}: {tmp_path} has no readable model_index.json" in (
        result.stderr
    )


def test_the_cpu_plan_is_a_size_the_family_renders() -> None:
    caps = FAMILIES["animatediff"]
    assert PLAN.width % caps.size_multiple == 0 and PLAN.height % caps.size_multiple == 0
    assert PLAN.seconds <= caps.max_seconds and PLAN.steps <= caps.default_steps
