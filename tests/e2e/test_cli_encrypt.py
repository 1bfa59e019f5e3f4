"""`reelbot create "a city at night" --encrypt-text GM` from a terminal: a real worker on the tiny
AnimateDiff family hides the word; a family without it, or a long word, is refused before
anything connects."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from cli.console import create_clip
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


@pytest.mark.slow
@pytest.mark.timeout(240)
async def test_create_hides_the_word(redis_server, workers, data_dir) -> None:
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
    finally:
        await pool.aclose()
    assert f"file:    {clip.path}" in out.getvalue()
    frames, _fps = decoded(clip.path)
    assert frames[0].shape[:2] == (96, 96)
    row = store.get(clip.generation_id)
    assert row is not None and (row.spec["mode"], row.spec["illusion_text"]) == ("illusion", "GM")
