"""`reelbot edit` from a terminal: what it was asked is read before anything is connected, and the
clip is checked before anything is queued; every refusal is the reason on stderr and exit 2.
Run as a person runs it, a process of its own."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.capabilities import capabilities_for
from core.spec import RenderSpec
from gallery.db import make_engine, migrate
from gallery.models import GenerationCreate
from gallery.store import GalleryStore
from intake.submit import new_generation_id
from tests.harness.cli import reelbot

NOWHERE = "redis://127.0.0.1:1/0"  # nothing listens: a refusal must come before connecting


def env_for(data_dir: Path) -> dict[str, str]:
    return {"REELBOT_DATA_DIR": str(data_dir), "REELBOT_REDIS_URL": NOWHERE}


def finished_clip(data_dir: Path, **row: object) -> str:
    """A done 16:9 tiny clip in the terminal's own gallery database."""
    engine = make_engine(f"sqlite:///{data_dir / 'reelbot.db'}")
    migrate(engine)
    store = GalleryStore(engine)
    gid = new_generation_id()
    width, height = capabilities_for("tiny").snap_size(16, 9)
    spec = RenderSpec(
        prompt="a red car",
        aspect_ratio="16:9",
        width=width,
        height=height,
        num_frames=24,
        steps=2,
        seed=3,
        owner_id="cli:local",
    )
    store.add_generation(GenerationCreate.from_spec(gid, spec.model_dump(mode="json")))
    if row.get("status", "done") == "done":
        store.mark_done(gid, media_path=f"{gid[:2]}/{gid}.mp4", size_bytes=10, timings={})
    engine.dispose()
    return gid


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--where", "10,20,95,40"], "is not a box inside the frame"),
        (["--where", "1,2,3,4,5"], "names nothing"),
        (["--swap", "the car"], "exactly one of --with"),
        (["--expand", "9:16", "--add", "cat.png"], "One edit at a time"),
        (["--add", "missing.png"], "Can't read `missing.png`"),
    ],
)
def test_a_bad_edit_is_refused_before_connecting(
    tmp_path: Path, args: list[str], words: str
) -> None:
    result = reelbot("edit", new_generation_id(), "make it snow", *args, env=env_for(tmp_path))
    assert result.returncode == 2, result.stderr
    assert words in result.stderr and result.stdout == ""


def test_an_unknown_clip_or_a_link_elsewhere_is_refused(tmp_path: Path) -> None:
    finished_clip(tmp_path)
    result = reelbot("edit", new_generation_id(), "make it snow", env=env_for(tmp_path))
    assert result.returncode == 2
    assert "reelbot: I can't find that clip" in result.stderr

    link = f"https://elsewhere.test/clips/{new_generation_id()}"
    result = reelbot("edit", link, "make it snow", env=env_for(tmp_path))
    assert result.returncode == 2 and "isn't one of this server's clips" in result.stderr


def test_a_clip_still_rendering_is_refused(tmp_path: Path) -> None:
    gid = finished_clip(tmp_path, status="queued")
    result = reelbot("edit", gid, "make it snow", env=env_for(tmp_path))
    assert result.returncode == 2 and "still rendering" in result.stderr
