"""`reelbot create "… -loop"` and `--image PICTURE --end PICTURE` from a terminal: the clip a
real worker process makes on the tiny family ends on its first frame, or on the end picture."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageOps

from cli.console import create_clip
from cli.pictures import read_pictures
from core.capabilities import capabilities_for
from gallery.db import make_engine, migrate
from gallery.media import LocalMediaStore
from gallery.store import GalleryStore
from intake.submit import connect_queue
from tests.harness.cli import reelbot
from tests.harness.video import decoded, psnr

OFFLINE = {"REELBOT_REDIS_URL": "redis://127.0.0.1:1/0"}


def picture(path: Path, size: tuple[int, int], kind: str) -> Path:
    width, height = size
    pixels = np.zeros((height, width, 3), np.uint8)
    if kind == "halves":
        pixels[:, : width // 2], pixels[:, width // 2 :] = (230, 40, 40), (40, 40, 230)
    else:
        pixels[..., 0] = np.linspace(0, 255, height, dtype=np.uint8)[:, None]
        pixels[..., 1] = 220
    Image.fromarray(pixels).save(path)
    return path


@pytest.mark.parametrize(
    ("args", "code", "words"),
    [  # 2: what was typed; 3: anything else the operator must fix
        (["a kite -loop 2"], 2, ["`-loop` takes no value"]),
        (["a kite", "--end", "end.png"], 3, ["`--end` needs `--image`"]),
        (["a kite", "--image", "missing.png"], 3, ["Can't read", "missing.png"]),
        (["a kite", "--image", "notes.png"], 3, ["notes.png", "PNG, JPEG, WebP or GIF"]),
        (
            ["a kite -loop", "--image", "start.png", "--end", "end.png"],
            2,
            ["`-loop` and `--end` can't both be given"],
        ),
    ],
)
def test_bad_loops_and_pictures_are_refused_before_connecting(
    tmp_path: Path, args: list[str], code: int, words: list[str]
) -> None:
    picture(tmp_path / "start.png", (320, 240), "halves")
    picture(tmp_path / "end.png", (320, 240), "gradient")
    (tmp_path / "notes.png").write_text("not a picture\n" * 20)
    paths = [str(tmp_path / a) if a.endswith(".png") else a for a in args]
    result = reelbot("create", *paths, env={"REELBOT_DATA_DIR": str(tmp_path), **OFFLINE})
    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr
    for word in words:
        assert word in result.stderr


def test_a_model_without_end_pictures_is_named(tmp_path: Path) -> None:
    start = picture(tmp_path / "start.png", (320, 240), "halves")
    with pytest.raises(Exception, match="ltx, tiny, wan"):
        read_pictures(start, start, capabilities_for("svd"))


@pytest.mark.slow
@pytest.mark.timeout(240)
async def test_create_makes_loops_and_clips_that_end_on_a_picture(
    redis_server, workers, data_dir: Path, tmp_path: Path
) -> None:
    engine = make_engine(f"sqlite:///{data_dir / 'reelbot.db'}")
    migrate(engine)
    store, media = GalleryStore(engine), LocalMediaStore(data_dir / "media")
    start = picture(tmp_path / "start.png", (640, 480), "halves")
    end = picture(tmp_path / "end.png", (640, 480), "gradient")
    workers.start()
    out = io.StringIO()
    pool = await connect_queue(redis_server.url)
    tiny = capabilities_for("tiny")
    try:
        common = {
            "pool": pool,
            "store": store,
            "media": media,
            "backend": "tiny",
            "public_url": "http://gallery.test",
            "out": out,
            "idle_timeout_s": 120,
        }
        looped = await create_clip("a kite over a beach -loop -seed 4", **common)
        ending = await create_clip("-seed 4", pictures=read_pictures(start, end, tiny), **common)
    finally:
        await pool.aclose()

    assert (
        f"file:    {looped.path}" in out.getvalue() and f"file:    {ending.path}" in out.getvalue()
    )
    assert "It ends on your end picture." in out.getvalue()
    frames, _ = decoded(looped.path)
    assert psnr(frames[0], frames[-1]) > 24
    frames, _ = decoded(ending.path)
    height, width = frames.shape[1:3]
    with Image.open(end) as opened:
        fitted = np.asarray(ImageOps.fit(opened.convert("RGB"), (width, height)))
    assert psnr(frames[-1], fitted) > 30
    row = store.get(ending.generation_id)
    assert row is not None and row.spec["end_frame"] is True
    assert row.spec["input_media"][1].endswith(".end.png")
