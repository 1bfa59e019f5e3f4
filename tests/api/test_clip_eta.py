"""The ETA in `POST /v1/clips`'s answer is the scheduler's own for the queued clip (as
`GET /v1/clips/{id}` and Discord's /queue give it), read from the place the request previewed
instead of a second walk of the line."""

from __future__ import annotations

import asyncio
import json

from core.capabilities import capabilities_for
from core.fairshare import queue_of
from core.flags import parse_request
from core.spec import RenderSpec
from jobs.keys import heartbeat_key
from tests.api.conftest import Api

DEFAULT_QUEUE = queue_of("fast", "tiny")  # where a tiny worker reads fast jobs


async def test_the_answers_eta_is_the_queued_clips_eta(api: Api) -> None:
    ctx = api.ctx
    idle = {"job": None, "at": 0, "started": 0, "queue": DEFAULT_QUEUE}
    await ctx.queue.set(heartbeat_key("w-0"), json.dumps(idle), px=60_000)
    while not await ctx.admission.workers():  # its cache of live workers lasts a second
        await asyncio.sleep(0.05)
    timed = parse_request("a fox", capabilities=capabilities_for("tiny"), owner_id="x")
    await ctx.admission.record_render(timed, 12.0)
    tokens = [api.issue(f"discord:{2000 + n}") for n in range(3)]

    for n in range(9):
        answer = await api.post_clip({"prompt": f"a fox {n} -len 1"}, token=tokens[n % 3])
        assert answer.status == 202, answer.body
        gid = answer.body["id"]
        spec = RenderSpec.model_validate(ctx.store.get(gid).spec)
        assert answer.body["queue_position"] == await ctx.admission.position(gid)
        eta = await ctx.admission.eta(gid, spec)
        assert eta is not None and answer.body["eta_s"] == round(eta, 1)
