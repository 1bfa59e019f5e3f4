"""`reelbot create "dawn | noon" --frames A B C` from a terminal: /frames' clip, made by a real
worker process on the tiny family, passes through each picture; bad requests are refused before
anything connects."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageOps

from cli.console import create_clip
from cli.pictures import read_pictures
from core.capabilities import capabilities_for
from core.frames import frame_indices
from gallery.db import make_engine, migrate
from gallery.media import LocalMediaStore
from gallery.store import GalleryStore
from intake.submit import connect_queue
from tests.e2e.test_cli_loop import OFFLINE
from tests.e2e.test_discord_frames import SAME
from tests.e2e.test_discord_frames import picture as picture_bytes
from tests.harness.cli import reelbot
from tests.harness.video import decoded, psnr


def pictures(root: Path, count: int = 3) -> list[Path]:
    paths = []
    for k in range(count):
        path = root / f"p{k}.png"
        path.write_bytes(picture_bytes(320, 240, k))
        paths.append(path)
    return paths


@pytest.mark.parametrize(
    ("args", "code", "words"),
    [  # 2: what was typed; 3: anything else the operator must fix
        (["dawn", "--frames", "p0.png"], 3, ["2 to 5 pictures; you gave 1"]),
        (["dawn | noon | dusk", "--frames", "p0.png", "p1.png"], 3, ["3 parts split by `|`"]),
        (["dawn -loop", "--frames", "p0.png", "p1.png"], 2, ["`-loop` can't be used"]),
        (["dawn", "--frames", "p0.png", "p1.png", "--image", "p2.png"], 3, ["leave out"]),
    ],
)
def test_bad_frames_are_refused_before_connecting(
    tmp_path: Path, args: list[str], code: int, words: list[str]
) -> None:
    pictures(tmp_path)
    paths = [str(tmp_path / a) if a.endswith(".png") else a for a in args]
    result = reelbot("create", *paths, env={"REELBOT_DATA_DIR": str(tmp_path), **OFFLINE})
    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr
    for word in words:
        assert word in result.stderr


def test_a_model_without_keyframes_is_named(tmp_path: Path) -> None:
    with pytest.raises(Exception, match="ltx, tiny"):
        read_pictures(None, None, capabilities_for("wan"), pictures(tmp_path))


@pytest.mark.slow
@pytest.mark.timeout(240)
async def test_create_frames_passes_through_each_picture(
    redis_server, workers, data_dir: Path, tmp_path: Path
) -> None:
    engine = make_engine(f"sqlite:///{data_dir / 'reelbot.db'}")
    migrate(engine)
    store, media = GalleryStore(engine), LocalMediaStore(data_dir / "media")
    paths = pictures(tmp_path)
    workers.start()
    out = io.StringIO()
    pool = await connect_queue(redis_server.url)
    checked = read_pictures(None, None, capabilities_for("tiny"), paths)
    try:
        clip = await create_clip(
            "dawn | noon -seed 4",
            pool=pool,
            store=store,
            media=media,
            backend="tiny",
            public_url="http://gallery.test",
            out=out,
            idle_timeout_s=120,
            pictures=checked,
        )
    finally:
        await pool.aclose()

    assert f"file:    {clip.path}" in out.getvalue()
    assert "passes through your 3 pictures" in out.getvalue()
    frames, _ = decoded(clip.path)
    height, width = frames.shape[1:3]
    fitted = []
    for path in paths:
        with Image.open(path) as opened:
            fitted.append(np.asarray(ImageOps.fit(opened.convert("RGB"), (width, height))))
    for k, index in enumerate(frame_indices(3, len(frames))):
        scores = [psnr(frames[index], f) for f in fitted]
        assert scores[k] == max(scores) and scores[k] > SAME, (k, scores)
    row = store.get(clip.generation_id)
    assert row is not None and row.spec["mode"] == "frames"
    assert [m.rsplit(".", 2)[-2] for m in row.spec["input_media"]] == ["k0", "k1", "k2"]
