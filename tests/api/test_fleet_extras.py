"""POST /v1/clips with `sound: true` (or `-sound`) when the workers said their sound model is
off: refused in the bot's words, naming the setting, before anything is recorded or queued."""

from __future__ import annotations

from core.capabilities import capabilities_for
from core.fairshare import queue_of
from jobs.liveness import Liveness
from tests.api.conftest import MEMBER, Api


async def test_sound_is_refused_when_no_worker_makes_sound(api: Api) -> None:
    await Liveness(  # the fleet: one tiny worker started with REELBOT_SOUND_MODEL=off
        api.ctx.queue,
        "tiny-0",
        interval_s=1,
        lease_s=15,
        queue=queue_of("fast", "tiny"),
        family="tiny",
        modes=capabilities_for("tiny").all_modes,
        extras=("voice",),
    ).beat()
    for body in ({"prompt": "a fox", "sound": True}, {"prompt": "a fox -sound"}):
        answer = await api.post_clip(body)
        assert answer.status == 422, answer.body
        assert answer.detail.startswith("No worker here makes sound right now")
        assert "REELBOT_SOUND_MODEL" in answer.detail
    assert api.ctx.store.list_unfinished() == []
    assert await api.ctx.submitter.admission.usage(MEMBER) == (0, 0)
    silent = await api.post_clip({"prompt": "a fox"})
    assert silent.status == 202, silent.body
