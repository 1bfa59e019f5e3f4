"""-ref on the worker: a family without reference pictures, or a reference that is not a saved
character's picture, is refused before anything renders (the bot refuses both first; a job
written to Redis by anything else must not get further)."""

from __future__ import annotations

from typing import Any

import pytest

from core.capabilities import capabilities_for
from core.spec import RenderJob, RenderSpec
from worker.job_check import Refusal, check_inputs
from worker.render import job_render

GID = "ab" + "0" * 30
CHARACTER = "cd/cd" + "1" * 30 + ".char.png"


def spec(*references: str, backend: str = "tiny") -> RenderSpec:
    return RenderSpec(
        prompt="a knight",
        aspect_ratio="16:9",
        width=512,
        height=288,
        num_frames=17,
        steps=4,
        seed=1,
        backend=backend,
        reference_media=references,
    )


class NoReferences:
    capabilities = capabilities_for("tiny")

    def render(self, *args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a family without reference pictures must not be asked to render")


def test_a_family_without_reference_pictures_renders_no_ref_job(tmp_path) -> None:
    job = RenderJob(generation_id=GID, spec=spec(CHARACTER))
    with pytest.raises(ValueError, match="takes no reference pictures"):
        job_render(NoReferences(), job, lambda s, t: None, (), None, [tmp_path / "c.png"])


@pytest.mark.parametrize("item", ["../etc/passwd", "ab/" + GID + ".mp4", "ab/" + GID + ".k0.png"])
def test_only_saved_characters_pictures_are_references(item: str) -> None:
    class Row:
        id = GID
        parent_id = None

    with pytest.raises(Refusal, match="not a saved character's picture"):
        check_inputs(None, Row(), spec(item, backend="wan_vace"))  # type: ignore[arg-type]
    check_inputs(None, Row(), spec(CHARACTER, backend="wan_vace"))  # type: ignore[arg-type]


def test_a_deleted_characters_picture_fails_the_clip_saying_so(tmp_path) -> None:
    """The character was deleted (its picture removed) while the clip waited: one plain
    failure, never a retry, never a clip rendered without it."""
    from gallery.media import LocalMediaStore
    from worker.render import MissingReference, reference_paths
    from worker.settings import WorkerConfig
    from worker.tasks import PERMANENT_ERRORS, failure_reason

    media = LocalMediaStore(tmp_path / "media")
    with pytest.raises(MissingReference) as caught:
        reference_paths(media, [CHARACTER])
    assert isinstance(caught.value, PERMANENT_ERRORS)
    told = failure_reason(caught.value, WorkerConfig())
    assert "a character it shows (-ref) was deleted or saved over" in told
    assert "/character save" in told
