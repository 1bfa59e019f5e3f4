"""`reelbot create --story "a | b"` from a terminal: /story's clip, made by a real worker
process on the tiny family; bad stories are refused before anything connects."""

from __future__ import annotations

from pathlib import Path

import av
import pytest

from tests.e2e.test_cli_loop import OFFLINE
from tests.harness.cli import reelbot
from tests.harness.video import decoded
from tests.harness.workers import WorkerProcesses, reelbot_env


@pytest.mark.parametrize(
    ("args", "code", "words"),
    [  # 2: what was typed; 3: anything else the operator must fix
        (["just one shot"], 3, ["A story takes 2 to 8 shots separated by |, got 1"]),
        (["a | | c"], 3, ["Shot 2 of the story is empty"]),
        (["a | b -loop"], 2, ["`-loop` can't be used with a story"]),
        (["a -ar 9:16 | b"], 2, ["`-ar` in shot 1 of the story", "its own -camera, -motion"]),
        (["a | b", "--image", "p.png"], 3, ["/story's image on Discord"]),
    ],
)
def test_bad_stories_are_refused_before_connecting(
    tmp_path: Path, args: list[str], code: int, words: list[str]
) -> None:
    (tmp_path / "p.png").write_bytes(b"")
    paths = [str(tmp_path / a) if a.endswith(".png") else a for a in args]
    env = {"REELBOT_DATA_DIR": str(tmp_path), **OFFLINE}
    result = reelbot("create", "--story", *paths, env=env)
    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr
    for word in words:
        assert word in result.stderr


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_create_story_prints_one_clip_of_every_shot(
    redis_server, workers: WorkerProcesses, data_dir: Path
) -> None:
    workers.start()
    env = reelbot_env(redis_server.url, data_dir)
    result = reelbot(
        "create",
        "--story",
        "a fox wakes -len 2 -camera pan left | the fox runs -seed 2 -len 1 -sound",
        env=env,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr + workers.logs()
    assert "a story of 2 shots, 2 and 1 s" in result.stdout  # shot 1's own -len
    path = Path(result.stdout.split("file:")[1].split()[0])
    frames, fps = decoded(path)
    assert (len(frames), fps) == (72, 24.0)
    with av.open(str(path)) as container:  # one sound track over both shots
        [stream] = container.streams.audio
        assert abs(float(stream.duration * stream.time_base) - 3.0) < 0.1
