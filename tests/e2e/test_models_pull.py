"""For every family, what an operator does: `reelbot models pull FAMILY` from the hub (here
the local fake hub, serving that family's tiny model in its repositories' layout), `reelbot
models check`, then a real `python -m worker` with HF_HUB_OFFLINE=1 and only REELBOT_BACKEND and
REELBOT_MODELS_DIR set, loading through the production `from_pretrained` branch (not
`builtin:tiny`), renders a clip. The hub is gone by then: the start is offline, from the folder.

Also: a pull interrupted with Ctrl-C in the middle of a file says how to resume, and the same
command again fetches only what was not finished.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from cli.local_redis import LocalRedis
from cli.tiny_models import write_tiny
from core.flags import parse_request
from core.models import family_models
from gallery.db import make_engine, migrate
from gallery.media import LocalMediaStore
from gallery.store import GalleryStore
from tests.e2e.test_backends_worker import CASES, Case, Install, check_clip, small_caps, submit
from tests.harness.cli import reelbot
from tests.harness.fakehub import FakeHub
from tests.harness.paths import ROOT
from tests.harness.workers import WorkerProcesses, reelbot_env

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

FAMILIES = [case.backend for case in CASES]  # every family with repositories


def hub_folders(family: str, root: Path) -> dict[str, Path]:
    """The family's repositories as the fake hub serves them: its tiny model, real layout."""
    write_tiny(family, root)
    return {repo.repo_id: root / repo.repo_id for repo in family_models(family).repos}


def online(hub: FakeHub, models: Path) -> dict[str, str]:
    """The pull's environment: the fake hub as HF_ENDPOINT (the suite runs offline otherwise)."""
    return {"HF_ENDPOINT": hub.url, "HF_HUB_OFFLINE": "0", "REELBOT_MODELS_DIR": str(models)}


@pytest.fixture
def gallery(tmp_path: Path) -> Iterator[tuple[GalleryStore, LocalMediaStore]]:
    """The install's database and media folder, under tmp_path/data as the worker's."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    engine = make_engine(f"sqlite:///{data_dir / 'reelbot.db'}")
    migrate(engine)
    try:
        yield GalleryStore(engine), LocalMediaStore(data_dir / "media")
    finally:
        engine.dispose()


@pytest.mark.parametrize("case", CASES, ids=FAMILIES)
async def test_pull_check_then_an_offline_worker_renders_from_the_folder(
    case: Case,
    gallery: tuple[GalleryStore, LocalMediaStore],
    redis_server: LocalRedis,
    redis: object,
    tmp_path: Path,
) -> None:
    family = case.backend
    models = tmp_path / "models"
    repos = family_models(family).repos
    with FakeHub(hub_folders(family, tmp_path / "hub")) as hub:
        pulled = await asyncio.to_thread(
            reelbot, "models", "pull", family, "--quiet", env=online(hub, models), timeout=120
        )
    assert pulled.returncode == 0, pulled.stderr
    lines = pulled.stdout.splitlines()
    assert [line.split(" (")[0] for line in lines[: len(repos)]] == [
        f"{repo.role}: {repo.repo_id} -> {models / repo.repo_id}" for repo in repos
    ]
    assert lines[-1] == (
        f"ready: REELBOT_BACKEND={family} REELBOT_MODELS_DIR={models} (works with HF_HUB_OFFLINE=1)"
    )

    main = models / repos[0].repo_id
    checked = await asyncio.to_thread(
        reelbot, "models", "check", str(main), "--family", family, env={"HF_HUB_OFFLINE": "1"}
    )
    assert checked.returncode == 0, checked.stderr

    # The hub is gone; only the backend and the folder are set (no REELBOT_MODEL).
    env = reelbot_env(
        redis_server.url,
        tmp_path / "data",
        REELBOT_BACKEND=family,
        REELBOT_MODELS_DIR=str(models),
        HF_HUB_OFFLINE="1",
    )
    env.pop("REELBOT_MODEL", None)
    workers = WorkerProcesses(env, tmp_path / "logs")
    workers.start(spawn=True)  # `python -m worker`, as an operator starts it
    try:
        install = Install(*gallery, workers, redis_server.url)
        caps = small_caps(family)
        spec = parse_request(case.text, capabilities=caps, owner_id="cli:ci", owner_name="ci")
        if spec.mode != case.mode:
            spec = spec.model_copy(update={"mode": case.mode})
        gid, spec = await submit(install, spec)
        row, _ = check_clip(install, gid, spec)
        assert row.status == "done"
        # loaded from the pulled folder through from_pretrained, not built in code
        assert f"{family} backend {main} on cpu" in workers.logs()
    finally:
        workers.stop_all()


def test_a_pull_interrupted_mid_file_resumes_with_only_what_was_left(tmp_path: Path) -> None:
    models = tmp_path / "models"
    folders = hub_folders("ltx", tmp_path / "hub")
    main = family_models("ltx").main.repo_id
    last = "vae/diffusion_pytorch_model.safetensors"  # the main repository's last file
    with FakeHub(folders) as hub:
        stall = hub.stall(main, last, after=1000)
        process = subprocess.Popen(
            [sys.executable, "-m", "cli.main", "models", "pull", "ltx"],
            env={**os.environ, **online(hub, models)},
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert stall.reached.wait(120), process.communicate(timeout=5)
            process.send_signal(signal.SIGINT)  # Ctrl-C in the middle of the file
            _, err = process.communicate(timeout=60)
        finally:
            if process.poll() is None:
                process.kill()
        assert process.returncode == 130, err
        assert err.strip().splitlines()[-1] == (
            "reelbot: interrupted; run `reelbot models pull ltx` again to resume "
            "(files already in place are kept)"
        )
        first = {path for path, _ in hub.gets(main)}
        hub.release(main, last)
        before = len(hub.gets(main))

        again = reelbot("models", "pull", "ltx", env=online(hub, models), timeout=120)

        assert again.returncode == 0, again.stderr
        assert "ltx: 13 files: 100%" in again.stderr  # the whole family's bar, to the end
        assert "vae/diffusion_pytorch_model.safetensors: " in again.stderr  # the file's own
        refetched = [path for path, _ in hub.gets(main)[before:]]
    assert refetched == [last]  # every finished file stayed; only the cut one came again
    assert last in first and len(first) > 1
    assert (models / main / last).read_bytes() == (folders[main] / last).read_bytes()
