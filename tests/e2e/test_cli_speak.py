"""`reelbot create --image face.png --speak voice.wav` from a terminal: /speak's clip, made by a
real worker process on the tiny family, the voice its AAC track; bad requests and bad voices
are refused before anything connects."""

from __future__ import annotations

import re
from pathlib import Path

import av
import pytest

from tests.e2e.test_cli_loop import OFFLINE
from tests.e2e.test_discord_sound import face_png, voice_wav
from tests.harness.cli import reelbot
from tests.harness.video import decoded
from tests.harness.workers import WorkerProcesses, reelbot_env


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["hi", "--speak", "v.wav"], ["take one picture, `--image FACE.png`"]),
        (["hi", "--image", "f.png", "--speak", "v.wav", "--say", "yo"], ["not both"]),
        (["hi", "--image", "f.png", "--speak", "bad.wav"], ["isn't a recording"]),
        (["hi", "--image", "f.png", "--speak", "long.wav"], ["at most 20 s"]),
        (["hi -loop", "--image", "f.png", "--say", "yo"], ["`-loop` can't be used with /speak"]),
        (["hi", "--speak-clip", "c" * 32, "--image", "f.png", "--say", "y"], ["leave out --image"]),
        (["hi", "--speak-clip", "https://example.com/x", "--say", "yo"], ["isn't one of"]),
        (["hi", "--speak-clip", "c" * 32, "--say", "yo"], ["I can't find that clip"]),
    ],
)
def test_bad_speech_is_refused_before_connecting(
    tmp_path: Path, args: list[str], words: list[str]
) -> None:
    (tmp_path / "f.png").write_bytes(face_png())
    (tmp_path / "v.wav").write_bytes(voice_wav(1.0))
    (tmp_path / "bad.wav").write_bytes(b"not a recording " * 40)
    (tmp_path / "long.wav").write_bytes(voice_wav(21))
    paths = [str(tmp_path / a) if a.endswith((".png", ".wav")) else a for a in args]
    env = {"REELBOT_DATA_DIR": str(tmp_path), **OFFLINE}
    result = reelbot("create", *paths, env=env)
    assert result.returncode in (2, 3), result.stderr
    assert "Traceback" not in result.stderr
    for word in words:
        assert word in result.stderr


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_create_speak_prints_a_clip_with_the_voice_as_its_track(
    redis_server, workers: WorkerProcesses, data_dir: Path, tmp_path: Path
) -> None:
    (tmp_path / "face.png").write_bytes(face_png())
    (tmp_path / "hello.wav").write_bytes(voice_wav(1.25))
    workers.start()
    env = reelbot_env(redis_server.url, data_dir)
    result = reelbot(
        "create",
        "a woman talks -seed 3",
        "--image",
        str(tmp_path / "face.png"),
        "--speak",
        str(tmp_path / "hello.wav"),
        env=env,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr + workers.logs()
    assert "speaks your 1.2 s voice" in result.stdout
    path = Path(result.stdout.split("file:")[1].split()[0])
    frames, fps = decoded(path)
    assert (len(frames), fps) == (30, 24.0)
    with av.open(str(path)) as container:
        [stream] = container.streams.audio
        assert stream.codec_context.name == "aac"
        assert abs(float(stream.duration * stream.time_base) - 1.25) < 0.05

    # the clip just made speaks a shorter voice: a child cut to it, the voice its track
    (tmp_path / "short.wav").write_bytes(voice_wav(0.5))
    [parent_id] = re.findall(r"[0-9a-f]{32}", path.name)
    again = reelbot(
        "create",
        "",
        "--speak-clip",
        parent_id,
        "--speak",
        str(tmp_path / "short.wav"),
        env=env,
        timeout=180,
    )
    assert again.returncode == 0, again.stderr + workers.logs()
    assert "Your clip speaks your 0.5 s voice" in again.stdout
    assert "first 0.5 s of 1.2 s" in again.stdout
    child = Path(again.stdout.split("file:")[1].split()[0])
    frames, fps = decoded(child)
    assert (len(frames), fps) == (12, 24.0)
    with av.open(str(child)) as container:
        [stream] = container.streams.audio
        assert abs(float(stream.duration * stream.time_base) - 0.5) < 0.05
