"""The shape of the project: who may import whom, no import cycles, and what works without torch.

The arrows (docs/architecture.md draws them):

    core    <- everything          (pure: imports nothing of ours and no I/O library)
    jobs    -> core                (the Redis side every process shares)
    gallery -> core                (the system of record and the web)
    intake  -> core, jobs, gallery (what every front end shares to take a request)
    worker  -> core, jobs, gallery (rendering)
    bot     -> core, jobs, gallery, intake (the Discord front end)
    api     -> core, jobs, gallery, intake (the REST front end, a peer of bot)
    cli     -> anything            (the `reelbot` command and the local stack)

Every import counts, at module level or inside a function, except under `TYPE_CHECKING`.
"""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.harness.paths import ROOT

PACKAGES = ("core", "jobs", "gallery", "intake", "worker", "bot", "api", "cli")
# package -> the packages of ours it may import (itself always)
MAY_IMPORT: dict[str, set[str]] = {
    "core": set(),
    "jobs": {"core"},
    "gallery": {"core"},
    "intake": {"core", "jobs", "gallery"},
    "worker": {"core", "jobs", "gallery"},
    "bot": {"core", "jobs", "gallery", "intake"},
    "api": {"core", "jobs", "gallery", "intake"},
    "cli": set(PACKAGES),
}
# package -> third-party libraries it must never import
NEVER: dict[str, set[str]] = {
    "core": {
        "discord",
        "redis",
        "arq",
        "aiohttp",
        "sqlalchemy",
        "sqlmodel",
        "alembic",
        "torch",
        "diffusers",
        "transformers",
        "av",
        "boto3",
        "botocore",
        "psycopg",
        "PIL",
        "numpy",
        "jinja2",
        "prometheus_client",
    },
    "jobs": {"discord", "sqlalchemy", "sqlmodel", "torch", "diffusers", "transformers", "av"},
    "gallery": {"discord", "redis", "arq", "torch", "diffusers", "transformers", "av"},
    # no "av": intake.media.voices decodes /speak's uploads with PyAV (no pure-Python decoder
    # reads MP3, Opus or AAC), imported inside the check that runs in the upload-check processes
    "intake": {"discord", "torch", "diffusers", "transformers"},
    "worker": {"discord"},
    "bot": {"torch", "diffusers", "transformers", "av"},
    "api": {"discord", "torch", "diffusers", "transformers", "av"},
}
# Modules a process without torch (the bot, the gallery, the API) imports.
TORCH_FREE = [
    "cli.main",
    "cli.console",
    "cli.up",
    "cli.status",
    "core.flags",
    "core.spec",
    "core.policy",
    "core.capabilities",
    "bot.app",
    "intake.submit",
    "bot.metrics",
    "jobs.admission",
    "jobs.events",
    "worker.backends",
    "worker.backends.tiny",
    "worker.metrics",
    "gallery.web",
    "gallery.store",
]


def source_modules() -> dict[str, Path]:
    """Every module of ours, by dotted name (packages by their own name)."""
    found: dict[str, Path] = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            if "migrations" in parts:  # alembic's scripts, run by alembic, not imported
                continue
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


MODULES = source_modules()


def imported_names(path: Path, name: str) -> Iterator[str]:
    """Dotted names `path` imports anywhere, except under `if TYPE_CHECKING:`."""
    is_package = path.name == "__init__.py"

    def walk(node: ast.AST) -> Iterator[str]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                yield from (n for branch in child.orelse for n in walk(branch))
                continue
            if isinstance(child, ast.Import):
                yield from (alias.name for alias in child.names)
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    parts = name.split(".")
                    keep = len(parts) - child.level + (1 if is_package else 0)
                    base = ".".join(parts[:keep] + ([base] if base else []))
                yield base
                yield from (f"{base}.{alias.name}" for alias in child.names)
            yield from walk(child)

    yield from walk(ast.parse(path.read_text()))


def own_module(target: str) -> str | None:
    """The module of ours `target` names (a module, or a name inside one), if any."""
    while target and target not in MODULES:
        target = target.rpartition(".")[0]
    return target or None


GRAPH: dict[str, set[str]] = {
    name: {m for t in imported_names(path, name) if (m := own_module(t)) and m != name}
    for name, path in MODULES.items()
}


def test_the_packages_are_where_the_layout_says() -> None:
    for package in ("core", "jobs", "gallery", "intake", "worker", "bot", "cli"):
        assert package in MODULES, f"{package}/ is missing"
    for feature in ("intake", "moderation", "delivery", "cogs"):
        assert f"bot.{feature}" in MODULES, f"bot/{feature}/ is missing"


@pytest.mark.parametrize("package", [p for p in PACKAGES if p != "cli"])
def test_arrows_point_down(package: str) -> None:
    allowed = MAY_IMPORT[package] | {package}
    wrong = sorted(
        f"{name} -> {target}"
        for name, targets in GRAPH.items()
        if name.split(".")[0] == package
        for target in targets
        if target.split(".")[0] not in allowed
    )
    assert wrong == []


@pytest.mark.parametrize("package", sorted(NEVER))
def test_no_package_reaches_for_a_library_below_its_station(package: str) -> None:
    wrong = sorted(
        f"{name} imports {top}"
        for name, path in MODULES.items()
        if name.split(".")[0] == package
        for top in {t.split(".")[0] for t in imported_names(path, name)} & NEVER[package]
    )
    assert wrong == []


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's components with more than one module: each is an import cycle."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return cycles


def test_no_module_imports_itself_round_a_cycle() -> None:
    assert strongly_connected(GRAPH) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    """The check above can fail: a two-module cycle is found, a chain is not."""
    assert strongly_connected({"a": {"b"}, "b": {"a"}, "c": {"a"}}) == [["a", "b"]]
    assert strongly_connected({"a": {"b"}, "b": {"c"}, "c": set()}) == []


def test_a_function_level_import_counts_and_type_checking_does_not(tmp_path: Path) -> None:
    path = tmp_path / "m.py"
    path.write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from bot.app import ReelBot\n"
        "def f():\n    from worker.tasks import render_clip\n"
    )
    names = set(imported_names(path, "jobs.m"))
    assert "worker.tasks.render_clip" in names
    assert not any(n.startswith("bot") for n in names)


def test_the_front_ends_and_the_job_contract_import_without_torch() -> None:
    blocked = ["torch", "diffusers", "transformers", "av"]
    code = "; ".join(
        [
            "import sys",
            *(f"sys.modules[{name!r}] = None" for name in blocked),
            *(f"import {module}" for module in TORCH_FREE),
            "from core.capabilities import capabilities_for",
            "print(capabilities_for('tiny').name)",
        ]
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "tiny"


def test_every_family_the_worker_can_load_has_a_capability_entry() -> None:
    """The bot sizes requests from `core.capabilities`; the worker loads `worker.backends`."""
    from core.capabilities import FAMILIES
    from worker.backends import BACKENDS

    assert set(FAMILIES) == set(BACKENDS)
    for name, module in BACKENDS.items():
        assert importlib.import_module(module).CAPABILITIES is FAMILIES[name]
        assert FAMILIES[name].name == name
