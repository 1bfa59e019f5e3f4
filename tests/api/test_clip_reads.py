"""GET /v1/clips/{id}, GET /v1/clips and POST /v1/clips/{id}/cancel: what a member reads of
their clips, who else may read them, and cancelling."""

from __future__ import annotations

import json

from arq.constants import in_progress_key_prefix

from api.schemas import Cancelled, Clip, ClipPage
from core.fairshare import queue_of
from core.spec import CANCELLED, ProgressEvent
from jobs.events import publish_event
from jobs.keys import cancel_key, heartbeat_key
from tests.api.conftest import GUILD, MEMBER, Api
from tests.harness.waiting import eventually

DEFAULT_QUEUE = queue_of("fast", "tiny")  # where a tiny worker reads fast jobs

OTHER = "discord:2002"


async def queued(api: Api, body: dict | None = None, **options) -> str:
    answer = await api.post_clip(body or {"prompt": "a fox -seed 7"}, **options)
    assert answer.status == 202, answer.body
    return answer.body["id"]


async def test_a_queued_clip_reads_with_its_place_spec_and_links(api: Api) -> None:
    gid = await queued(api, {"prompt": "a fox -motion 3 -ar 9:16 -seed 7"})
    answer = await api.call("GET", f"/v1/clips/{gid}")
    assert answer.status == 200
    clip = Clip.model_validate(answer.body)  # the shape the OpenAPI document promises
    assert clip.status == "queued" and clip.queue_position == 1
    assert (clip.spec.motion, clip.spec.aspect_ratio, clip.seed) == (3, "9:16", 7)
    assert clip.command.startswith("a fox") and "-seed 7" in clip.command
    assert clip.owner_id == MEMBER and clip.guild_id == str(GUILD)
    assert clip.result is None and clip.progress is None
    assert "input_media" not in answer.body["spec"] and "channel_id" not in answer.body["spec"]


async def test_a_running_clip_shows_its_progress_and_a_finished_one_its_files(api: Api) -> None:
    gid = await queued(api)
    api.ctx.store.mark_rendering(gid, worker="w1", attempt=1)
    await publish_event(api.ctx.queue, gid, ProgressEvent(kind="step", step=3, total=12))
    running = (await api.call("GET", f"/v1/clips/{gid}")).body
    assert running["status"] == "running"
    assert running["progress"] == {"step": 3, "total": 12, "fraction": 0.25}
    api.ctx.store.mark_done(gid, media_path=f"{gid[:2]}/{gid}.mp4", size_bytes=99, timings={})
    done = Clip.model_validate((await api.call("GET", f"/v1/clips/{gid}")).body)
    assert done.status == "succeeded" and done.result is not None
    assert done.result.video_url == f"http://gallery.test/media/{gid}.mp4"
    assert done.result.preview_url == f"http://gallery.test/media/{gid}.preview.mp4"
    assert done.result.public is True


async def test_a_remix_names_its_parent_and_the_parent_its_remix(api: Api) -> None:
    parent = await queued(api)
    remix = await api.post_clip({"from": parent, "action": "remix", "prompt": "a cat -seed 3"})
    assert remix.status == 202, remix.body
    child = remix.body["id"]
    assert (await api.call("GET", f"/v1/clips/{child}")).body["lineage"]["parent_id"] == parent
    assert (await api.call("GET", f"/v1/clips/{parent}")).body["lineage"]["children"] == [child]


async def test_a_hidden_clip_is_its_owners_tokens_alone(api: Api) -> None:
    hidden = await queued(api, {"prompt": "a fox", "hide": True})
    public = await queued(api, {"prompt": "a fox"})
    other = api.issue(OTHER)
    assert (await api.call("GET", f"/v1/clips/{hidden}")).status == 200
    second_token = api.issue()  # any token of the owner's
    assert (await api.call("GET", f"/v1/clips/{hidden}", token=second_token)).status == 200
    answer = await api.call("GET", f"/v1/clips/{hidden}", token=other)
    assert answer.status == 404
    assert answer.detail == (await api.call("GET", f"/v1/clips/{'0' * 32}")).detail
    assert (await api.call("GET", f"/v1/clips/{public}", token=other)).status == 200
    # a clip the moderators hold, or one deleted, is gone for others too
    api.ctx.store.set_moderation(public, "hidden")
    assert (await api.call("GET", f"/v1/clips/{public}", token=other)).status == 404
    # and nobody else can make a follow-up of a hidden clip
    reroll = await api.post_clip({"from": hidden, "action": "reroll"}, token=other)
    assert reroll.status == 404


async def test_a_follow_up_repeats_its_clip_and_takes_no_other_settings(api: Api) -> None:
    parent = await queued(api, {"prompt": "a fox -motion 2 -seed 7"})
    reroll = await api.post_clip({"from": parent, "action": "reroll"})
    assert reroll.status == 202
    child = api.ctx.store.get(reroll.body["id"])
    assert child.parent_id == parent and child.motion == 2 and child.seed != 7
    vary = await api.post_clip({"from": parent, "action": "vary"})
    assert api.ctx.store.get(vary.body["id"]).motion == 3
    refused = await api.post_clip({"from": parent, "action": "reroll", "motion": 4})
    assert refused.status == 422 and "`motion`" in refused.detail
    no_action = await api.post_clip({"from": parent})
    assert no_action.status == 422 and "`action`" in no_action.detail
    extend = await api.post_clip({"from": parent, "action": "extend"})
    assert extend.status == 422
    assert extend.detail == "The model loaded right now can't extend clips."


async def test_the_owner_cancels_a_queued_clip_and_it_reads_cancelled(api: Api) -> None:
    gid = await queued(api)
    other = api.issue(OTHER)
    refused = await api.call("POST", f"/v1/clips/{gid}/cancel", token=other)
    assert refused.status == 403
    assert refused.detail == "Only the member who asked for this clip can cancel it."
    answer = await api.call("POST", f"/v1/clips/{gid}/cancel")
    assert answer.status == 200
    done = Cancelled.model_validate(answer.body)
    assert done.outcome == "cancelled" and done.clip.status == "cancelled"
    assert done.clip.error == CANCELLED
    assert api.ctx.store.get(gid).error == CANCELLED
    assert await api.ctx.admission.position(gid) is None  # out of the queue
    again = await api.call("POST", f"/v1/clips/{gid}/cancel")
    assert again.status == 409 and again.detail == "That request has already finished."


async def test_a_rendering_clip_is_asked_to_stop(api: Api, redis) -> None:
    gid = await queued(api)
    live = {"job": None, "queue": DEFAULT_QUEUE}  # a live worker
    await redis.set(heartbeat_key("w1"), json.dumps(live))
    api.ctx.admission.kick()
    await eventually(lambda: redis.zscore(DEFAULT_QUEUE, gid), lambda _score: True)
    await redis.set(in_progress_key_prefix + gid, b"1")  # and a worker has taken it
    api.ctx.store.mark_rendering(gid, worker="w1", attempt=1)
    answer = await api.call("POST", f"/v1/clips/{gid}/cancel")
    assert answer.status == 202
    done = Cancelled.model_validate(answer.body)
    assert done.outcome == "stopping" and done.clip.status == "running"
    assert done.detail == "Stopping it: the render ends at its next step and frees the GPU."
    assert await redis.exists(cancel_key(gid))  # what the worker checks at every step


async def test_a_members_clips_page_by_keyset_newest_first(api_on: Api) -> None:
    api = api_on
    made = [await queued(api, {"prompt": f"a fox {n}"}) for n in range(4)]
    cancelled = await api.call("POST", f"/v1/clips/{made[0]}/cancel")  # caps: 4 in flight
    assert cancelled.status == 200  # a cancelled clip is still listed
    other = api.issue(OTHER)
    await queued(api, {"prompt": "not mine"}, token=other)
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        query = "/v1/clips?owner=me&limit=3" + (f"&cursor={cursor}" if cursor else "")
        answer = await api.call("GET", query)
        assert answer.status == 200, answer.body
        page = ClipPage.model_validate(answer.body)
        seen += [clip.id for clip in page.clips]
        pages += 1
        cursor = page.next
        if cursor is None:
            break
        made.append(await queued(api, {"prompt": "made while paging"}, token=api.issue()))
    assert pages == 2
    assert seen == list(reversed(made[:4]))  # newest first, each once; later ones not shifted in
    bad = await api.call("GET", "/v1/clips?cursor=bm9wZQ")
    assert bad.status == 400 and "cursor" in bad.detail
    assert (await api.call("GET", "/v1/clips?owner=someone")).status == 400
    assert (await api.call("GET", "/v1/clips?limit=0")).status == 400
