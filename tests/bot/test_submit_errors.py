"""A submission whose queueing failed is not queued: whatever reached Redis before the error is
taken out, so the clip a member was told "not queued" about is never rendered."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from core.fairshare import Caps
from core.limits import Limits
from gallery.db import make_engine, migrate
from gallery.models import GenerationStatus
from gallery.store import GalleryStore
from intake.submit import Submitter
from jobs.admission import Admission
from tests.harness.renderjobs import job

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def store(tmp_path: Path) -> GalleryStore:
    engine = make_engine(f"sqlite:///{tmp_path / 'g.db'}")
    migrate(engine)
    return GalleryStore(engine)


async def test_a_job_whose_queueing_reply_was_lost_is_taken_out(redis: Any, store) -> None:
    admission = Admission(redis)
    queue = admission.enqueue

    async def queued_then_lost(*args: Any, **kwargs: Any) -> None:
        await queue(*args, **kwargs)  # Redis ran the script...
        raise RedisConnectionError("Connection reset by peer")  # ...and its reply never came

    admission.enqueue = queued_then_lost  # type: ignore[method-assign]
    submitter = Submitter(redis, store, admission, limits=Limits(base=Caps(in_flight=2, per_day=2)))
    clip = job("cli:alice", 0)
    with pytest.raises(RedisConnectionError):
        await submitter.submit(clip.spec, generation_id=clip.generation_id)
    assert await admission.position(clip.generation_id) is None  # no worker will get it
    assert await admission.usage("cli:alice") == (0, 0)  # nor does it count against her
    row = store.get(clip.generation_id)
    assert row is not None and row.status == GenerationStatus.FAILED
    for n in (1, 2):  # both her places, and both of the day's clips, are hers again
        again = job("cli:alice", n)
        admission.enqueue = queue  # type: ignore[method-assign]
        await submitter.submit(again.spec, generation_id=again.generation_id)
