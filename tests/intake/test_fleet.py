"""Requests in a fleet of several model families: each goes to a family that makes its mode,
and a mode no worker offers is refused in words an operator can act on, with nothing queued
and nothing counted against the member."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from core.capabilities import capabilities_for
from core.errors import UserFacingError
from core.fairshare import Caps, queue_of
from core.limits import Limits
from gallery.db import make_engine, migrate
from gallery.store import GalleryStore
from intake.fleet import FleetChoice
from intake.submit import Submitter
from jobs.admission import Admission
from jobs.liveness import Liveness
from tests.harness.renderjobs import job

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def store(tmp_path: Path) -> GalleryStore:
    engine = make_engine(f"sqlite:///{tmp_path / 'g.db'}")
    migrate(engine)
    return GalleryStore(engine)


async def beat(redis: Any, family: str) -> None:
    worker = Liveness(
        redis,
        f"{family}-0",
        interval_s=1,
        lease_s=15,
        queue=queue_of("fast", family),
        family=family,
        modes=capabilities_for(family).all_modes,
    )
    await worker.beat()


def edit_of(member: str, n: int) -> Any:
    """A clip of the tiny family's whose mode no tiny worker makes (as an edit would be)."""
    clip = job(member, n)
    return clip.model_copy(update={"spec": clip.spec.model_copy(update={"mode": "v2v"})})


async def test_a_mode_no_worker_offers_is_refused_and_nothing_is_queued_or_counted(
    redis: Any, store: GalleryStore
) -> None:
    await beat(redis, "tiny")  # tiny makes no v2v
    admission = Admission(redis)
    submitter = Submitter(redis, store, admission, limits=Limits(base=Caps(2, 5)))
    clip = edit_of("discord:1", 0)
    with pytest.raises(UserFacingError) as refused:
        await submitter.submit(clip.spec, generation_id=clip.generation_id)
    assert str(refused.value) == (
        "No worker here can restyle videos right now — ask a server admin to start one "
        "(REELBOT_WORKERS=…wan:1)."
    )
    assert store.get(clip.generation_id) is None
    assert await admission.usage("discord:1") == (0, 0)
    assert await admission.position(clip.generation_id) is None


async def test_edits_name_the_family_that_makes_them(redis: Any) -> None:
    await beat(redis, "ltx")
    with pytest.raises(UserFacingError) as refused:
        await FleetChoice(redis).family_for("edit", capabilities_for("ltx"))
    assert str(refused.value) == (
        "No worker here can edit clips right now — ask a server admin to start one "
        "(REELBOT_WORKERS=…wan_vace:1)."
    )


async def test_a_mode_the_main_family_lacks_goes_to_a_family_that_has_it(
    redis: Any, store: GalleryStore
) -> None:
    await beat(redis, "tiny")
    await beat(redis, "wan")  # wan restyles videos
    fleet = FleetChoice(redis)
    assert (await fleet.family_for("v2v", capabilities_for("tiny"))).name == "wan"
    assert (await fleet.family_for("t2v", capabilities_for("tiny"))).name == "tiny"
    admission = Admission(redis)
    for n in range(3):  # tiny's own line: three clips waiting
        await admission.enqueue(job(f"discord:{10 + n}", n), caps=Caps(2, 5))
    submitter = Submitter(redis, store, admission, limits=Limits(base=Caps(2, 5)))
    clip = edit_of("discord:1", 1)
    submission = await submitter.submit(clip.spec, generation_id=clip.generation_id)
    assert submission.position == 1  # first in wan's line, not behind tiny's clips
    row = store.get(clip.generation_id)
    assert row is not None and row.backend == "wan"
    assert clip.generation_id in await admission.admit()
    assert await redis.zrange(queue_of("fast", "wan"), 0, -1) == [clip.generation_id.encode()]


async def test_with_no_worker_ever_seen_a_request_waits_for_its_main_family(
    redis: Any, store: GalleryStore
) -> None:
    admission = Admission(redis)
    submitter = Submitter(redis, store, admission, limits=Limits(base=Caps(2, 5)))
    clip = edit_of("discord:1", 2)
    await submitter.submit(clip.spec, generation_id=clip.generation_id)
    assert await admission.position(clip.generation_id) == 1
    assert store.get(clip.generation_id).backend == "tiny"
