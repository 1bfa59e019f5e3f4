"""`reelbot up` with a mixed fleet: REELBOT_WORKERS=ltx:1,wan_vace:1 starts workers of each
family, each with its own REELBOT_BACKEND; a count keeps today's meaning."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.settings import BotSettings
from cli.up import local_plan, worker_processes
from core.errors import ConfigError
from core.fleet import parse_workers
from jobs.settings import load_settings


def backends(settings: BotSettings, tmp_path: Path) -> list[str]:
    plan = parse_workers(settings.workers, settings.backend)
    return [w.env["REELBOT_BACKEND"] for w in worker_processes(plan, {"X": "1"}, tmp_path)]


def test_a_mixed_fleet_starts_each_familys_workers(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("REELBOT_WORKERS", "ltx:1,wan_vace:2")
    monkeypatch.setenv("REELBOT_BACKEND", "ltx")
    settings = load_settings(BotSettings)
    assert backends(settings, tmp_path) == ["ltx", "wan_vace", "wan_vace"]
    workers = worker_processes(parse_workers(settings.workers, "ltx"), {"X": "1"}, tmp_path)
    assert [w.log_path.name for w in workers] == ["worker-0.log", "worker-1.log", "worker-2.log"]
    assert all(w.env["X"] == "1" for w in workers)


def test_a_count_is_that_many_of_the_backends_workers(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("REELBOT_WORKERS", "2")
    monkeypatch.setenv("REELBOT_BACKEND", "wan")
    assert backends(load_settings(BotSettings), tmp_path) == ["wan", "wan"]
    monkeypatch.delenv("REELBOT_WORKERS")
    assert backends(load_settings(BotSettings), tmp_path) == ["wan"]


@pytest.mark.parametrize("value", ["ltx", "ltx:x", "65", "ltx:50,wan:50"])
def test_a_bad_plan_names_the_variable_and_the_shape(monkeypatch, value) -> None:
    monkeypatch.setenv("REELBOT_WORKERS", value)
    with pytest.raises(ConfigError) as bad:
        load_settings(BotSettings)
    assert "REELBOT_WORKERS" in str(bad.value)


def test_the_tiny_stack_edits_out_of_the_box(tmp_path: Path) -> None:
    """`./dev up` (tiny, a count of workers) starts a tiny editor beside its tiny workers, on
    tiny random weights, so ✏️ Modify and friends work at once; pairs are taken as written."""
    env = {"REELBOT_BACKEND": "tiny"}
    workers = worker_processes(local_plan(2, "tiny"), env, tmp_path)
    assert [w.env["REELBOT_BACKEND"] for w in workers] == ["tiny", "tiny", "wan_vace"]
    assert [w.env.get("REELBOT_MODEL") for w in workers] == [None, None, "builtin:tiny"]
    assert local_plan("tiny:1", "tiny") == (("tiny", 1),)
    assert local_plan(0, "tiny") == ()
    assert local_plan(1, "ltx") == (("ltx", 1),)
    ltx = worker_processes(
        local_plan("ltx:1,wan_vace:1", "ltx"), {"REELBOT_BACKEND": "ltx"}, tmp_path
    )
    assert all("REELBOT_MODEL" not in w.env for w in ltx)  # real weights, as configured
