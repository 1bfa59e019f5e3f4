"""A story is one job in the fair queue but costs one clip per shot against the daily cap."""

from __future__ import annotations

import pytest

from core.fairshare import Caps, QuotaExceeded
from core.spec import RenderJob
from jobs.admission import Admission
from tests.harness.renderjobs import job

pytestmark = pytest.mark.timeout(30)


def story(member: str, n: int, shots: int) -> RenderJob:
    """Member `member`'s n-th request, a story of `shots` shots."""
    plain = job(member, n)
    prompt = " | ".join(f"shot {k} of {n}" for k in range(shots))
    spec = plain.spec.model_copy(
        update={"mode": "story", "prompt": prompt, "num_frames": 8 * shots}
    )
    return RenderJob(
        generation_id=plain.generation_id, spec=type(spec).model_validate(spec.model_dump())
    )


async def test_a_three_shot_story_costs_three_clips_today_and_one_place(redis) -> None:
    admission = Admission(redis)
    caps = Caps(in_flight=5, per_day=10)
    tale = story("alice", 1, 3)
    await admission.reserve(tale.generation_id, tale.spec, caps)
    await admission.enqueue(tale, caps=caps)
    assert await admission.usage("alice") == (1, 3)  # one job in line, three clips today
    await admission.enqueue(job("alice", 2), caps=caps)
    assert await admission.usage("alice") == (2, 4)


async def test_a_story_that_does_not_fit_today_is_refused_with_nothing_queued(redis) -> None:
    admission = Admission(redis)
    caps = Caps(in_flight=5, per_day=4)
    for n in range(2):
        await admission.enqueue(job("alice", n), caps=caps)
    tale = story("alice", 9, 3)
    with pytest.raises(QuotaExceeded, match=r"made 2 clips today .*this one has 3") as refused:
        await admission.reserve(tale.generation_id, tale.spec, caps)
    assert refused.value.cap == "per_day"
    with pytest.raises(QuotaExceeded, match="made 2 clips today"):  # unreserved, as well
        await admission.enqueue(tale, caps=caps)
    assert await admission.usage("alice") == (2, 2)  # nothing queued, nothing counted
    await admission.enqueue(story("alice", 10, 2), caps=caps)  # two shots still fit
    assert await admission.usage("alice") == (3, 4)


async def test_a_cancelled_story_gives_every_shot_back(redis) -> None:
    admission = Admission(redis)
    caps = Caps(in_flight=5, per_day=3)
    tale = story("alice", 1, 3)
    await admission.enqueue(tale, caps=caps)
    assert await admission.cancel(tale.generation_id)
    assert await admission.usage("alice") == (0, 0)
    await admission.enqueue(story("alice", 2, 3), caps=caps)
