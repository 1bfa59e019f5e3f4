"""`reelbot create "a city at night" --encrypt-text GM` (or `--encrypt-image LOGO`) from a
terminal: a real worker on the tiny AnimateDiff family hides the word, then the picture; a family
without it, a long word, or a picture with --image, is refused before anything connects."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from cli.console import create_clip
from cli.pictures import check_picture
from core.capabilities import capabilities_for
from gallery.db import make_engine, migrate
from gallery.media import LocalMediaStore
from gallery.store import GalleryStore
from intake.submit import connect_queue
from tests.harness.cli import reelbot
from tests.harness.video import decoded

OFFLINE = {"REELBOT_REDIS_URL": "redis://127.0.0.1:1/0"}


def test_a_family_without_it_and_a_long_word_are_refused_before_connecting(
    tmp_path: Path,
) -> None:
    env = {"REELBOT_DATA_DIR": str(tmp_path), **OFFLINE}
    result = reelbot("create", "a city at night", "--encrypt-text", "GM", env=env)
    assert result.returncode == 3 and "the animatediff model can" in result.stderr
    env["REELBOT_BACKEND"] = "animatediff"
    result = reelbot("create", "a city at night", "--encrypt-text", "x" * 21, env=env)
    assert result.returncode == 2 and "a clip hides at most 20" in result.stderr

    logo = tmp_path / "logo.png"
    Image.new("RGB", (200, 200), (255, 255, 255)).save(logo)
    result = reelbot(
        "create", "a city", "--encrypt-image", str(logo), "--image", str(logo), env=env
    )
    assert result.returncode == 3 and "leave out --image" in result.stderr
    env["REELBOT_BACKEND"] = "tiny"
    result = reelbot("create", "a city at night", "--encrypt-image", str(logo), env=env)
    assert result.returncode == 3 and "the animatediff model can" in result.stderr


@pytest.mark.slow
@pytest.mark.timeout(240)
async def test_create_hides_the_word_and_a_picture(
    redis_server, workers, data_dir, tmp_path: Path
) -> None:
    engine = make_engine(f"sqlite:///{data_dir / 'reelbot.db'}")
    migrate(engine)
    store, media = GalleryStore(engine), LocalMediaStore(data_dir / "media")
    workers.env.update(REELBOT_BACKEND="animatediff", REELBOT_MODEL="builtin:tiny")
    workers.start()
    small = capabilities_for("animatediff").model_copy(
        update={"native_pixels": 96 * 96, "default_steps": 2}
    )
    out = io.StringIO()
    pool = await connect_queue(redis_server.url)
    try:
        clip = await create_clip(
            "a city at night -ar 1:1 -len 1 -seed 4",
            pool=pool,
            store=store,
            media=media,
            backend="animatediff",
            public_url="http://gallery.test",
            out=out,
            idle_timeout_s=120,
            capabilities=small,
            hidden="GM",
        )
        logo = tmp_path / "logo.png"
        Image.new("RGB", (300, 200), (255, 255, 255)).save(logo)
        common = {"pool": pool, "store": store, "media": media, "backend": "animatediff"}
        picture = await create_clip(
            "a city at night -len 1 -seed 4",
            **common,
            public_url="http://gallery.test",
            out=out,
            idle_timeout_s=120,
            capabilities=small,
            hidden_picture=check_picture(logo),
        )
    finally:
        await pool.aclose()
    assert f"file:    {clip.path}" in out.getvalue()
    frames, _fps = decoded(clip.path)
    assert frames[0].shape[:2] == (96, 96)
    row = store.get(clip.generation_id)
    assert row is not None and (row.spec["mode"], row.spec["illusion_text"]) == ("illusion", "GM")
    gid = picture.generation_id
    row = store.get(gid)
    assert row is not None and row.spec["mode"] == "illusion" and not row.spec["illusion_text"]
    assert row.spec["input_media"] == [f"{gid[:2]}/{gid}.png"]  # kept as /encrypt_image keeps it
    assert row.status == "done" and row.width > row.height  # the picture's 3:2 shape
