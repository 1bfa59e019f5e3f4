"""The `reelbot` command as operators and moderators run it: real processes, real exit codes."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import av
import pytest

from tests.harness.cli import reelbot
from tests.harness.paths import ROOT


def shared_examples() -> Path:
    """The examples live beside the repository, not in it: `shared/` next to the checkout, or
    next to a folder above it (a CI clone in a work folder of its own). REELBOT_EXAMPLES
    points elsewhere."""
    if named := os.environ.get("REELBOT_EXAMPLES"):
        return Path(named)
    beside = [folder / "shared" / "examples" for folder in ROOT.parents]
    return next((path for path in beside if path.is_dir()), beside[0])


EXAMPLES = shared_examples()


def in_ci() -> bool:
    """CI services set CI (GitHub Actions, GitLab, Buildkite, …: "true" or "1")."""
    return os.environ.get("CI", "").strip().lower() not in {"", "0", "false", "no"}


def example_lines() -> list[dict]:
    path = EXAMPLES / "parse.jsonl"
    if not path.exists():  # test_the_shared_examples_are_there says so
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_the_shared_examples_are_there() -> None:
    """Missing examples fail in CI (or when REELBOT_EXAMPLES names them); a checkout without
    `../shared` skips, saying where it looked."""
    path = EXAMPLES / "parse.jsonl"
    if path.is_file():
        assert example_lines(), f"{path} has no examples"
        return
    message = (
        f"{path} is missing: place the shared folder beside the repository "
        "(../shared/examples, or beside a folder above it) "
        "or set REELBOT_EXAMPLES to the examples folder"
    )
    if in_ci() or os.environ.get("REELBOT_EXAMPLES"):
        pytest.fail(message)
    pytest.skip(message)


@pytest.mark.parametrize("example", example_lines(), ids=lambda e: e["in"][:40])
def test_parse_matches_the_shared_examples(example: dict) -> None:
    result = reelbot("parse", example["in"])
    if "exit" in example:
        assert result.returncode == example["exit"], result.stderr
        assert result.stdout == ""
        for word in example["stderr_mentions"]:
            assert word in result.stderr
        assert "Traceback" not in result.stderr
    else:
        assert result.returncode == 0, result.stderr
        spec = json.loads(result.stdout)
        for key, value in example["out"].items():
            assert spec[key] == value, key


def test_parse_prints_every_documented_key() -> None:
    result = reelbot("parse", "a fox running through snow -motion 3 -camera pan left -ar 9:16")
    assert result.returncode == 0, result.stderr
    spec = json.loads(result.stdout)
    keys = "prompt negative_prompt aspect_ratio width height num_frames fps seed motion camera"
    for key in [*keys.split(), "guidance_scale", "hidden"]:
        assert key in spec
    assert spec["aspect_ratio"] == "9:16" and spec["width"] < spec["height"]
    assert 0 <= spec["seed"] <= 2**32 - 1


@pytest.mark.parametrize(
    "text, mentions",
    [
        ("a windmill -motion", ["-motion", "0", "4"]),
        ("a windmill -seed -1", ["-seed"]),
        ("-camera zoom in", ["Describe the clip"]),
        ("a windmill " + "x" * 1600, ["1,500"]),
    ],
)
def test_parse_rejects_bad_input_with_exit_2_and_no_traceback(
    text: str, mentions: list[str]
) -> None:
    result = reelbot("parse", text)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    for word in mentions:
        assert word in result.stderr


def test_create_without_reachable_redis_names_the_url(tmp_path: Path) -> None:
    env = {"REELBOT_REDIS_URL": "redis://:hunter2@127.0.0.1:1/0", "REELBOT_DATA_DIR": str(tmp_path)}
    result = reelbot("create", "a fox -seed 1", env=env)
    assert result.returncode == 3
    assert "127.0.0.1:1" in result.stderr
    assert "hunter2" not in result.stderr
    assert "Traceback" not in result.stderr


def test_create_with_bad_flags_fails_before_connecting(tmp_path: Path) -> None:
    env = {"REELBOT_REDIS_URL": "redis://127.0.0.1:1/0", "REELBOT_DATA_DIR": str(tmp_path)}
    result = reelbot("create", "a fox -camrea zoom in", env=env)
    assert result.returncode == 2
    assert "-camrea" in result.stderr and "-camera" in result.stderr


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_up_starts_everything_and_makes_a_first_clip(tmp_path: Path) -> None:
    """The README's first command, minus the install: own Redis, worker, gallery, one clip."""
    env = {
        "REELBOT_DATA_DIR": str(tmp_path / "data"),
        "REELBOT_GALLERY_PORT": "0",
        "REELBOT_REDIS_URL": "",
        "PATH": "/nonexistent",  # no system redis-server: the embedded Valkey must be used
        "REELBOT_DEFAULT_QUALITY": "fast",  # the first clip is made as the server's default
    }
    env = {k: v for k, v in {**os.environ, **env}.items() if k != "REELBOT_REDIS_URL"}
    result = subprocess.run(
        [sys.executable, "-m", "cli.main", "up", "--once"],
        capture_output=True, text=True, timeout=280, env=env, cwd=ROOT,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    lines = dict(
        line.split(":", 1)
        for line in result.stdout.splitlines()
        if line.startswith(("file:", "gallery:"))
    )
    path = Path(lines["file"].strip())
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
        assert stream.height > stream.width  # the demo asks for 9:16
    assert lines["gallery"].strip().startswith("http://127.0.0.1:")
    assert re.search(r"^queued \S+ .*seed \d+, fast$", result.stdout, re.M), result.stdout
    assert "moving noise by design" in result.stdout  # a newcomer knows why the clip looks so
    assert "reelbot models pull ltx" in result.stdout
    assert not (tmp_path / "data" / "run" / "redis.url").exists()  # cleaned up on exit


@pytest.mark.parametrize(
    "env, mentions",
    [
        ({"REELBOT_BACKEND": "ltx-nope"}, ["REELBOT_BACKEND", "tiny"]),
        ({"REELBOT_GALLERY_PORT": "abc"}, ["REELBOT_GALLERY_PORT"]),
        ({"REELBOT_REDIS_URL": "http://example.invalid"}, ["REELBOT_REDIS_URL", "redis://"]),
    ],
)
def test_bad_settings_are_named_without_a_traceback(tmp_path: Path, env, mentions) -> None:
    result = reelbot("create", "a fox -seed 1", env={"REELBOT_DATA_DIR": str(tmp_path), **env})
    assert result.returncode == 3, result.stderr
    assert "Traceback" not in result.stderr
    for word in mentions:
        assert word in result.stderr


def test_create_gives_up_on_a_redis_that_never_answers(tmp_path: Path) -> None:
    import socket

    with socket.socket() as silent:  # accepts connections, never replies
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        env = {
            "REELBOT_REDIS_URL": f"redis://127.0.0.1:{port}/0",
            "REELBOT_DATA_DIR": str(tmp_path),
        }
        result = reelbot("create", "a fox -seed 1", env=env, timeout=30)
    assert result.returncode == 3
    assert f"127.0.0.1:{port}" in result.stderr


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_create_finds_a_running_up_and_a_second_up_is_refused(tmp_path: Path) -> None:
    import signal

    data = tmp_path / "data"
    env = {
        **{k: v for k, v in os.environ.items() if k != "REELBOT_REDIS_URL"},
        "REELBOT_DATA_DIR": str(data),
        "REELBOT_GALLERY_PORT": "0",
        "REELBOT_WORKERS": "tiny:1",  # no tiny editor: nothing here edits (it cost a process)
    }
    up = subprocess.Popen(
        [sys.executable, "-m", "cli.main", "up", "--no-demo"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=ROOT,
    )  # fmt: skip
    try:
        gallery = ""
        assert up.stdout is not None
        for line in up.stdout:
            if line.startswith("gallery:"):
                gallery = line.split(":", 1)[1].strip()
            if line.startswith("running"):
                break
        assert gallery.startswith("http://127.0.0.1:") and not gallery.endswith(":0")

        made = subprocess.run(
            [sys.executable, "-m", "cli.main", "create", "a kite over a beach -seed 4"],
            capture_output=True, text=True, env=env, cwd=ROOT, timeout=200,
        )  # fmt: skip
        assert made.returncode == 0, made.stderr
        assert f"gallery: {gallery}/clips/" in made.stdout

        second = subprocess.run(
            [sys.executable, "-m", "cli.main", "up", "--once"],
            capture_output=True, text=True, env=env, cwd=ROOT, timeout=60,
        )  # fmt: skip
        assert second.returncode == 3
        assert "Another `reelbot up`" in second.stderr
    finally:
        up.send_signal(signal.SIGINT)
        up.wait(timeout=60)
    assert up.returncode == 0
    assert not (data / "run" / "redis.url").exists()
    assert not (data / "run" / "gallery.url").exists()
