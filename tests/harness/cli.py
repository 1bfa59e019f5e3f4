"""The `reelbot` command run as a person runs it: a process of its own, its exit code and output."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.harness.paths import ROOT


def reelbot(
    *args: str, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli.main", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
        cwd=ROOT,
    )
