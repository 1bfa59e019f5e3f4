"""`bench/scan.py` runs end to end and prints its tables (tiny CLIP, tiny render: seconds, CPU)."""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

import pytest

from tests.harness.paths import ROOT


def test_the_bench_prints_its_figures(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["bench/scan.py", "--quick", "--runs", "1", "--classifiers", "clip-tiny"]
    argv += ["--clips", "animatediff", "--tiny-render"]
    monkeypatch.setattr(sys, "argv", argv)
    runpy.run_path(str(Path(ROOT, "bench", "scan.py")), run_name="__main__")
    out = capsys.readouterr().out
    for needle in (
        "frames/s",
        "animatediff 512x512x16",
        "NOT a real CLIP's",
        "contact sheet for a held clip",
        "ESTIMATED render per clip",
        "% of render",
        "n/a (tiny render)",
    ):
        assert needle in out, needle
