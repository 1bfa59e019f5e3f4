"""`reelbot create … --sound "words"` (and `-sound` inline) from a terminal: the clip comes back
with a sound track as long as its picture, made by a real worker process on the tiny family."""

from __future__ import annotations

import io
from pathlib import Path

import av
import pytest

from cli.console import create_clip, with_sound
from gallery.db import make_engine, migrate
from gallery.media import LocalMediaStore
from gallery.store import GalleryStore
from intake.submit import connect_queue
from tests.harness.cli import reelbot
from tests.harness.video import decoded


@pytest.mark.parametrize(
    ("words", "line"),
    [
        (None, "a kite"),
        ("", "a kite -sound"),
        ("wind  over sand", 'a kite -sound "wind over sand"'),
        ("wind", "a kite -sound wind"),
    ],
)
def test_the_sound_option_is_the_inline_flag(words: str | None, line: str) -> None:
    assert with_sound("a kite", words) == line


def test_sound_asked_both_ways_is_refused_before_connecting(tmp_path: Path) -> None:
    env = {"REELBOT_DATA_DIR": str(tmp_path), "REELBOT_REDIS_URL": "redis://127.0.0.1:1/0"}
    result = reelbot("create", "a kite -sound gulls", "--sound", "wind", env=env)
    assert result.returncode == 2
    assert "`-sound` is given twice" in result.stderr


@pytest.mark.slow
@pytest.mark.timeout(240)
async def test_create_with_sound_prints_an_mp4_with_a_track(redis_server, workers, data_dir):
    engine = make_engine(f"sqlite:///{data_dir / 'reelbot.db'}")
    migrate(engine)
    store, media = GalleryStore(engine), LocalMediaStore(data_dir / "media")
    workers.start()
    out = io.StringIO()
    pool = await connect_queue(redis_server.url)
    try:
        clip = await create_clip(
            with_sound("a kite over a beach -len 2 -seed 4", "wind over sand"),
            pool=pool,
            store=store,
            media=media,
            backend="tiny",
            public_url="http://gallery.test",
            out=out,
            idle_timeout_s=120,
        )
    finally:
        await pool.aclose()

    assert f"file:    {clip.path}" in out.getvalue()
    frames, fps = decoded(clip.path)
    with av.open(str(clip.path)) as container:
        [stream] = container.streams.audio
        seconds = float(stream.duration * stream.time_base)
        assert stream.codec_context.name == "aac"
    assert abs(seconds - len(frames) / fps) <= 1 / fps and len(frames) / fps == 2.0
    row = store.get(clip.generation_id)
    assert row is not None and row.spec["sound_prompt"] == "wind over sand"
