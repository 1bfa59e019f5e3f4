"""The shape of the project: who may import whom, and what must work without torch."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

# package -> packages it must never import
FORBIDDEN = {"gallery": {"bot", "worker"}, "worker": {"bot", "discord"}}
TORCH_FREE = [
    "cli.main",
    "core.flags",
    "bot.intake.submit",
    "cli.console",
    "cli.up",
    "bot.metrics",
    "core.spec",
    "jobs.events",
    "worker.backends",
    "worker.backends.tiny",
    "worker.metrics",
    "gallery.web",
    "gallery.store",
]


def imported_packages(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_dependencies_point_one_way(package: str) -> None:
    offenders = {
        str(path.relative_to(ROOT)): sorted(imported_packages(path) & FORBIDDEN[package])
        for path in (ROOT / package).rglob("*.py")
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_the_bot_and_the_job_contract_import_without_torch() -> None:
    blocked = ["torch", "diffusers", "transformers", "av"]
    code = "; ".join(
        [
            "import sys",
            *(f"sys.modules[{name!r}] = None" for name in blocked),
            *(f"import {module}" for module in TORCH_FREE),
            "from worker.backends import capabilities_for",
            "print(capabilities_for('tiny').name)",
        ]
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "tiny"
