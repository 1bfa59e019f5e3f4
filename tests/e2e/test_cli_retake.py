"""`reelbot retake STORY --shot N`: 🎬 Retake from a terminal. The child it queues is the
story's retake (checked in-process); what can't be retaken is refused before Redis is touched,
run as a person runs it."""

from __future__ import annotations

from pathlib import Path

import pytest

from cli.story import retake_spec
from core.capabilities import capabilities_for
from core.errors import FlagError
from core.styles import DEFAULT_STYLES
from gallery.db import make_engine, migrate
from gallery.models import GenerationCreate
from gallery.store import GalleryStore
from intake.stories import as_story, read_story
from intake.submit import new_generation_id
from tests.harness.cli import reelbot

NOWHERE = "redis://127.0.0.1:1/0"  # nothing listens: a refusal must come before connecting
TINY = capabilities_for("tiny")
STORY = "a fox wakes -camera pan left | the fox runs -len 3 | the fox sleeps -seed 5"


def env_for(data_dir: Path) -> dict[str, str]:
    return {"REELBOT_DATA_DIR": str(data_dir), "REELBOT_REDIS_URL": NOWHERE}


def finished(data_dir: Path, text: str = STORY) -> tuple[GalleryStore, str]:
    """A done story (or a plain clip, for text without `|`) in the terminal's own gallery."""
    from core.flags import parse_request, resolve_request

    engine = make_engine(f"sqlite:///{data_dir / 'reelbot.db'}")
    migrate(engine)
    store = GalleryStore(engine)
    gid = new_generation_id()
    if "|" in text:
        told = read_story(text, TINY, DEFAULT_STYLES)
        spec = as_story(resolve_request(told.story, capabilities=TINY), own=told.shots)
    else:
        spec = parse_request(text, capabilities=TINY)
    spec = spec.model_copy(update={"owner_id": "discord:1"})
    store.add_generation(GenerationCreate.from_spec(gid, spec.model_dump(mode="json")))
    store.mark_done(gid, media_path=f"{gid[:2]}/{gid}.mp4", size_bytes=10, timings={})
    return store, gid


def test_the_retake_is_a_new_version_of_the_story_with_that_shot_only(tmp_path: Path) -> None:
    store, gid = finished(tmp_path)
    parent = store.get(gid)

    spec = retake_spec(parent, 2, TINY, DEFAULT_STYLES)

    assert (spec.mode, spec.parent_id, spec.retake) == ("story", gid, 1)  # shot 2, 0-based
    assert spec.prompt == "a fox wakes | the fox runs | the fox sleeps"
    assert [s.camera for s in spec.shot_flags] == ["pan left", None, None]  # kept
    assert spec.shot_flags[1].num_frames == 72
    assert spec.num_frames == parent.spec["num_frames"] and spec.seed != 5
    assert spec.owner_id == "cli:local"  # the operator's retake


@pytest.mark.parametrize(
    ("shot", "plain", "says"),
    [
        ("4", False, "`--shot 4`: this story has shots 1 to 3"),
        ("0", False, "`--shot 0`: this story has shots 1 to 3"),
        ("1", True, "Only a story's shots can be retaken: this clip is one shot."),
    ],
)
def test_what_cant_be_retaken_is_refused_before_connecting(
    tmp_path: Path, shot: str, plain: bool, says: str
) -> None:
    _store, gid = finished(tmp_path, "a red car -seed 3" if plain else STORY)
    result = reelbot("retake", gid, "--shot", shot, env=env_for(tmp_path))
    assert result.returncode == 2, result.stderr
    assert says in result.stderr and "Traceback" not in result.stderr


def test_an_unknown_story_is_refused(tmp_path: Path) -> None:
    finished(tmp_path)
    with pytest.raises(FlagError, match="I can't find that clip"):
        retake_spec(None, 1, TINY, DEFAULT_STYLES)
    result = reelbot("retake", new_generation_id(), "--shot", "1", env=env_for(tmp_path))
    assert result.returncode == 2 and "I can't find that clip" in result.stderr
