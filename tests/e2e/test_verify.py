"""`reelbot verify FILE` as a person runs it: JSON out, exit 0 ours, 1 not ours, 2 unreadable."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest

from cli.console import create_clip
from cli.main import main as reelbot_main
from gallery.db import make_engine, migrate
from gallery.media import LocalMediaStore
from gallery.store import GalleryStore
from intake.submit import connect_queue
from tests.harness.bombs import grows_midway, picture_named_mp4
from tests.harness.cli import reelbot
from tests.harness.provenance import GID
from tests.harness.video import reencode
from tests.harness.workers import WorkerProcesses
from worker.encode import encode_mp4


def verify(path: Path, tmp_path: Path) -> tuple[int, dict | None, str]:
    # an empty data folder: no gallery to look the id up in
    result = reelbot("verify", str(path), "--json", env={"REELBOT_DATA_DIR": str(tmp_path)})
    report = json.loads(result.stdout) if result.stdout.strip() else None
    return result.returncode, report, result.stderr


def test_our_clip_exits_0_with_its_origin(clips: dict[str, Path], tmp_path: Path) -> None:
    code, report, stderr = verify(clips["ours"], tmp_path)
    assert code == 0, stderr
    assert report["ours"] is True and report["generation_id"] == GID
    assert report["metadata"]["prompt"] == "a lighthouse in a storm"
    assert report["watermark"]["generation_id_prefix"] == GID[:16]
    assert report["c2pa"] == {"present": False, "valid": None}


def test_a_stripped_lossy_copy_is_still_ours_by_its_watermark(
    clips: dict[str, Path], tmp_path: Path
) -> None:
    code, report, stderr = verify(clips["stripped"], tmp_path)
    assert code == 0, stderr
    assert report["metadata"] is None
    assert report["watermark"]["generation_id_prefix"] == GID[:16]
    assert 0 < report["watermark"]["confidence"] <= 1
    assert report["generation_id"] is None  # no gallery here: the prefix is all we know


def test_a_clip_we_did_not_make_exits_1(clips: dict[str, Path], tmp_path: Path) -> None:
    code, report, _ = verify(clips["plain"], tmp_path)
    assert code == 1
    assert report["ours"] is False and report["watermark"] is None


def test_an_unreadable_file_exits_2_with_a_message(clips: dict[str, Path], tmp_path: Path) -> None:
    code, report, stderr = verify(clips["garbage"], tmp_path)
    assert code == 2 and report is None
    assert "garbage.mp4" in stderr and "Traceback" not in stderr


def test_a_picture_or_an_upload_bomb_exits_2_in_one_line(tmp_path: Path) -> None:
    """Read in the bounded child as any stranger's file: a PNG named .mp4 is no video, and
    frames that grow to 4352×4352 after a 96×64 header are over the budget, not decoded on."""
    code, report, stderr = verify(picture_named_mp4(tmp_path / "still.mp4"), tmp_path)
    assert (code, report) == (2, None)
    assert stderr.strip().splitlines() == [
        "reelbot: still.mp4: your file is a PNG picture, not a video, whatever its name says"
    ]
    bomb = grows_midway(tmp_path / "bomb.mp4", (96, 64), (4352, 4352))
    code, report, stderr = verify(bomb, tmp_path)
    assert (code, report) == (2, None)
    [line] = stderr.strip().splitlines()
    assert line.startswith("reelbot: bomb.mp4: your video's frames are 4352×4352 pixels")


def test_noise_does_not_count(tmp_path: Path) -> None:
    frames = np.random.default_rng(3).integers(0, 256, (9, 288, 512, 3), dtype=np.uint8)
    clip = encode_mp4(frames, 8.0, tmp_path / "noise.mp4", fps=24, num_frames=24)
    assert verify(clip.path, tmp_path)[0] == 1


@pytest.mark.slow
@pytest.mark.timeout(240)
async def test_a_clip_from_the_real_queue_and_worker_verifies(
    redis_server,
    redis,
    workers: WorkerProcesses,
    data_dir: Path,
    tmp_path: Path,
    capsys,
    monkeypatch,
) -> None:
    engine = make_engine(f"sqlite:///{data_dir / 'reelbot.db'}")
    migrate(engine)
    store, media = GalleryStore(engine), LocalMediaStore(data_dir / "media")
    workers.start()
    pool = await connect_queue(redis_server.url)
    try:
        clip = await create_clip(
            "a lighthouse in a storm -seed 5",
            pool=pool,
            store=store,
            media=media,
            backend="tiny",
            public_url="http://gallery.test",
            out=io.StringIO(),
            idle_timeout_s=120,
        )
    finally:
        await pool.aclose()
    row = store.get(clip.generation_id)
    assert row is not None and row.status == "done", workers.logs()
    stripped = tmp_path / "stripped.mp4"
    reencode(clip.path, stripped, clip.path.stat().st_size * 8 // 4)  # half its bit rate, no tags
    monkeypatch.setenv("REELBOT_DATA_DIR", str(data_dir))  # verify finds this gallery
    capsys.readouterr()

    for path in (clip.path, stripped):
        assert reelbot_main(["verify", str(path), "--json"]) == 0, capsys.readouterr().err
        report = json.loads(capsys.readouterr().out)
        assert report["ours"] is True
        assert report["watermark"]["generation_id_prefix"] == row.id[:16]
        assert report["generation_id"] == row.id  # from the tags, or the gallery by prefix
    assert report["metadata"] is None  # the stripped copy: the watermark alone told us
