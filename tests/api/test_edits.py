"""Edits through POST /v1/clips: `from` + `action` modify, expand, add or swap, made by
`intake.edits` as ✏️ Modify, ↔ Expand, /add and /swap are on Discord, and refused in the same
words as problem documents with a status a program can act on."""

from __future__ import annotations

import io
from typing import Any

import aiohttp
from PIL import Image

from core.capabilities import capabilities_for
from core.fairshare import queue_of
from core.spec import RenderSpec
from jobs.liveness import Liveness
from tests.api.conftest import MEMBER, Api

OTHER = "discord:2002"


def png(width: int = 200, height: int = 200) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (30, 160, 90)).save(out, "PNG")
    return out.getvalue()


def form(picture: bytes | None = None, **fields: str) -> aiohttp.FormData:
    body = aiohttp.FormData()
    for name, value in fields.items():
        body.add_field(name, value)
    if picture is not None:
        body.add_field("image", picture, filename="cat.png", content_type="image/png")
    return body


async def finished(api: Api, body: dict[str, Any] | None = None, token: str = "") -> str:
    """A clip of the token's member, finished with its MP4 (as a worker leaves it)."""
    answer = await api.post_clip(body or {"prompt": "a fox in the snow -ar 16:9"}, token=token)
    assert answer.status == 202, answer.body
    gid = answer.body["id"]
    assert api.ctx.store.mark_done(gid, media_path=f"{gid[:2]}/{gid}.mp4", size_bytes=9, timings={})
    return gid


def spec_of(api: Api, gid: str) -> RenderSpec:
    return RenderSpec.model_validate(api.ctx.store.get(gid).spec)


async def test_a_modify_is_the_members_edit_child_for_the_editing_family(api: Api) -> None:
    parent = await finished(api)
    answer = await api.post_clip(
        {"from": parent, "action": "modify", "prompt": "make it snow", "where": "the sky"}
    )
    assert answer.status == 202, answer.body
    spec = spec_of(api, answer.body["id"])
    assert spec.mode == "edit" and spec.prompt == "make it snow"
    assert spec.edit is not None and (spec.edit.kind, spec.edit.where) == ("modify", "the sky")
    assert spec.input_media == (f"{parent[:2]}/{parent}.mp4",)
    assert (spec.parent_id, spec.owner_id, spec.backend) == (parent, MEMBER, "wan_vace")
    clip = (await api.call("GET", f"/v1/clips/{answer.body['id']}")).body
    assert clip["spec"]["mode"] == "edit" and clip["lineage"]["parent_id"] == parent


async def test_an_expand_makes_the_new_shape_and_the_same_shape_is_refused(api: Api) -> None:
    parent = await finished(api)
    answer = await api.post_clip({"from": parent, "action": "expand", "expand_to": "9:16"})
    assert answer.status == 202, answer.body
    spec = spec_of(api, answer.body["id"])
    assert spec.edit is not None and spec.edit.expand_to == "9:16"
    assert spec.aspect_ratio == "9:16" and spec.height > spec.width
    assert spec.prompt == spec_of(api, parent).prompt  # the borders follow the clip's prompt
    same = await api.post_clip({"from": parent, "action": "expand", "expand_to": "16:9"})
    assert same.status == 422 and same.body["type"] == "urn:reelbot:problem:invalid-settings"
    assert "16:9" in same.detail and same.detail[0].isupper()


async def test_add_takes_a_picture_stored_under_the_edits_id(api: Api) -> None:
    parent = await finished(api)
    answer = await api.call(
        "POST", "/v1/clips", data=form(png(), **{"from": parent, "action": "add"})
    )
    assert answer.status == 202, answer.body
    gid = answer.body["id"]
    spec = spec_of(api, gid)
    assert spec.edit is not None and spec.edit.kind == "add"
    media, picture = spec.input_media
    assert media == f"{parent[:2]}/{parent}.mp4" and gid in picture
    assert api.ctx.media_store.resolve(picture).exists()
    bare = await api.post_clip({"from": parent, "action": "add"})
    assert bare.status == 422 and bare.detail == "/add needs a picture of what to put in the clip."


async def test_swap_takes_words_or_a_picture_but_one_of_them(api: Api) -> None:
    parent = await finished(api)
    words = {"from": parent, "action": "swap", "where": "the fox", "with": "a red panda"}
    answer = await api.post_clip(words)
    assert answer.status == 202, answer.body
    spec = spec_of(api, answer.body["id"])
    assert spec.edit is not None and (spec.edit.kind, spec.edit.where) == ("swap", "the fox")
    assert spec.prompt == "a red panda"
    pictured = form(png(), **{"from": parent, "action": "swap", "where": "the fox"})
    assert (await api.call("POST", "/v1/clips", data=pictured)).status == 202
    neither = await api.post_clip({"from": parent, "action": "swap", "where": "the fox"})
    assert neither.status == 422 and neither.body["type"].endswith(":edit-swap")
    assert "`with`" in neither.detail and "`image`" in neither.detail


async def test_a_clip_that_cant_be_edited_is_refused_as_discord_refuses_it(api: Api) -> None:
    other = api.issue(OTHER)
    theirs = await finished(api, {"prompt": "a fox", "hide": True}, token=other)
    ask = {"action": "modify", "prompt": "make it snow"}
    hidden = await api.post_clip({"from": theirs, **ask})
    nothing = await api.post_clip({"from": "0" * 32, **ask})
    assert hidden.status == nothing.status == 404 and hidden.detail == nothing.detail
    queued = (await api.post_clip({"prompt": "a fox"})).body["id"]
    rendering = await api.post_clip({"from": queued, **ask})
    assert rendering.status == 409 and rendering.body["type"].endswith(":edit-rendering")
    assert rendering.detail == "That clip is still rendering. Try again once it has been posted."
    api.ctx.store.mark_failed(queued, error="boom")
    failed = await api.post_clip({"from": queued, **ask})
    assert failed.status == 409
    assert failed.detail == "That clip didn't finish, so there's no video to edit."
    held = await finished(api)
    api.ctx.store.set_moderation(held, "held")
    answer = await api.post_clip({"from": held, **ask})
    assert answer.status == 409 and "waiting for a moderator's review" in answer.detail
    # the member's own clip, taken down by the moderators: its edit would be public
    removed = await finished(api)
    api.ctx.store.set_moderation(removed, "removed")
    answer = await api.post_clip({"from": removed, **ask})
    assert answer.status == 403 and "taken down by the moderators" in answer.detail


async def test_an_edit_of_a_hidden_clip_stays_hidden_whatever_hide_says(api: Api) -> None:
    parent = await finished(api, {"prompt": "a fox in the snow", "hide": True})
    answer = await api.post_clip(
        {"from": parent, "action": "modify", "prompt": "make it snow", "hide": False}
    )
    assert answer.status == 202, answer.body
    assert spec_of(api, answer.body["id"]).hidden


async def test_what_an_edit_cant_take_is_named(api: Api) -> None:
    parent = await finished(api)
    where = await api.post_clip(
        {"from": parent, "action": "modify", "prompt": "snow", "where": "90,0,20,10"}
    )
    assert where.status == 422 and where.detail.startswith("I can't read *where*")
    settings = await api.post_clip(
        {"from": parent, "action": "modify", "prompt": "snow", "motion": 3}
    )
    assert settings.status == 422 and "`motion`" in settings.detail
    stray = await api.post_clip({"prompt": "a fox", "where": "the sky"})
    assert stray.status == 422 and stray.body["type"].endswith(":edit-fields")
    no_from = await api.post_clip({"action": "modify", "prompt": "snow"})
    assert no_from.status == 422 and "`from`" in no_from.detail
    no_action = await api.post_clip({"from": parent})
    assert no_action.status == 422 and "modify, expand, add or swap" in no_action.detail
    wrong = await api.post_clip({"from": parent, "action": "modify", "with": "a cat"})
    assert wrong.status == 422 and "`with`" in wrong.detail


async def test_with_no_editing_worker_in_the_fleet_it_is_a_503(api: Api) -> None:
    await Liveness(  # the fleet: one worker, which can't edit
        api.ctx.queue,
        "tiny-0",
        interval_s=1,
        lease_s=15,
        queue=queue_of("fast", "tiny"),
        family="tiny",
        modes=capabilities_for("tiny").all_modes,
    ).beat()
    parent = await finished(api)
    answer = await api.post_clip({"from": parent, "action": "modify", "prompt": "make it snow"})
    assert answer.status == 503 and answer.body["type"].endswith(":no-editor")
    assert answer.detail.startswith("No worker here can edit")


async def test_an_idempotency_key_covers_the_edits_fields(api: Api) -> None:
    parent = await finished(api)
    body = {"from": parent, "action": "modify", "prompt": "make it snow", "where": "the sky"}
    key = {"Idempotency-Key": "edit-1"}
    first = await api.post_clip(body, headers=key)
    again = await api.post_clip(body, headers=key)
    assert first.status == again.status == 202 and again.body["id"] == first.body["id"]
    assert again.headers.get("Idempotent-Replayed") == "true"
    elsewhere = await api.post_clip({**body, "where": "the fox"}, headers=key)
    assert elsewhere.status == 409 and elsewhere.body["type"].endswith(":idempotency-key-reused")
    pictured = {"from": parent, "action": "add"}
    one = await api.call(
        "POST", "/v1/clips", data=form(png(), **pictured), headers={"Idempotency-Key": "add-1"}
    )
    other = await api.call(
        "POST", "/v1/clips", data=form(png(300), **pictured), headers={"Idempotency-Key": "add-1"}
    )
    assert one.status == 202 and other.status == 409


async def test_the_document_describes_edits_characters_and_speak(api: Api) -> None:
    document = (await api.call("GET", "/api/openapi.json", token=None)).body
    post = document["paths"]["/v1/clips"]["post"]
    fields = document["components"]["schemas"]["ClipRequest"]["properties"]
    for name in ("where", "expand_to", "zoom_out", "with", "ref", "speak", "say"):
        assert fields[name]["description"], name
    actions = {a for option in fields["action"]["anyOf"] for a in option.get("enum", ())}
    assert {"modify", "expand", "add", "swap", "reroll", "remix"} <= actions
    assert (
        "`voice` file" in post["description"]
        and "no-editor" in post["responses"]["503"]["description"]
    )


async def test_an_edit_the_policy_flags_is_held_with_its_picture_stored(api: Api) -> None:
    parent = await finished(api)
    asked = {"from": parent, "action": "add", "prompt": "a nude marble statue in a museum"}
    answer = await api.call("POST", "/v1/clips", data=form(png(), **asked))
    assert answer.status == 202 and answer.body["status"] == "held", answer.body
    spec = spec_of(api, answer.body["id"])
    assert spec.mode == "edit" and api.ctx.media_store.resolve(spec.input_media[1]).exists()
    assert any(note.startswith("Held for review") for note in answer.body["notes"])
