"""Dia for /speak's typed lines is pulled like the families' repositories: `reelbot models pull
speech` fetches nari-labs/Dia-1.6B-0626 and the DAC codec its processor config names by hub id
(here from the local fake hub, serving the tiny Dia and DAC in those layouts), and a worker with
REELBOT_TTS_MODEL=nari-labs/Dia-1.6B-0626 and REELBOT_MODELS_DIR voices a line offline."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest

from cli.models import listing
from cli.tiny_models import write_tiny
from core.models import DAC_ID, DIA_ID, MODELS
from tests.harness.cli import reelbot
from tests.harness.fakehub import FakeHub

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

SAY = """
from pathlib import Path
from worker.settings import WorkerConfig
from worker.speech import SpeechModel
config = WorkerConfig(backend="ltx2", device="cpu", tts_model={dia!r}, models_dir=Path({models!r}))
voice, load_s = SpeechModel.from_config(config).say("Hello there", 0.5, 4)
print(voice.sample_rate, voice.audio.shape[1] > 0, load_s > 0)
"""


async def test_pull_speech_and_a_worker_voices_a_line_offline(tmp_path: Path) -> None:
    write_tiny("speech", tmp_path / "hub")
    models = tmp_path / "models"
    env = {"REELBOT_MODELS_DIR": str(models), "HF_HOME": str(tmp_path / "hf")}
    listed = listing(MODELS, models, set())  # what `reelbot models` prints
    assert f"  text to speech (optional): {DIA_ID}  6.44 GB  [REELBOT_TTS_MODEL]  " in listed
    assert f"  speech codec (optional): {DAC_ID}  0.31 GB  [REELBOT_TTS_MODEL]  " in listed

    served = {repo: tmp_path / "hub" / repo for repo in (DIA_ID, DAC_ID)}
    with FakeHub(served) as hub:
        online = {**env, "HF_ENDPOINT": hub.url, "HF_HUB_OFFLINE": "0"}
        pulled = await asyncio.to_thread(
            reelbot, "models", "pull", "speech", "--quiet", env=online, timeout=120
        )
    assert pulled.returncode == 0, pulled.stderr
    lines = pulled.stdout.splitlines()
    assert lines[0].startswith(f"text to speech: {DIA_ID} -> {models / DIA_ID} (")
    assert lines[1].startswith(f"speech codec: {DAC_ID} -> {models / DAC_ID} (")
    assert lines[-1] == (
        f"ready: REELBOT_TTS_MODEL={DIA_ID} REELBOT_MODELS_DIR={models} "
        "(/speak voices typed lines; works with HF_HUB_OFFLINE=1)"
    )

    # The hub is gone, and nothing is in the hub cache: Dia and its codec come from the pulls.
    said = subprocess.run(
        [sys.executable, "-c", SAY.format(dia=DIA_ID, models=str(models))],
        env={**online, "HF_HUB_OFFLINE": "1", "HF_ENDPOINT": "http://127.0.0.1:9"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert said.returncode == 0, said.stderr[-2000:]
    assert said.stdout.split() == ["44100", "True", "True"]
