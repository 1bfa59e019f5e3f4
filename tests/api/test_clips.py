"""POST /v1/clips: a clip asked for through the API is read, screened, capped, recorded and
queued as Discord's /create is, and every refusal is a problem in the bot's words."""

from __future__ import annotations

import pytest

from api.context import FRESH_S
from core.capabilities import capabilities_for
from core.errors import FlagError
from core.flags import parse_flags
from core.options import merge_options
from core.spec import RenderSpec
from core.styles import DEFAULT_STYLES
from intake.caches import Bans
from tests.api.conftest import GUILD, MEMBER, Api, open_api
from tests.api.test_token_cache import Clock


def flag_words(text: str, **options: object) -> str:
    """What the bot says for this text and these slash options."""
    with pytest.raises(FlagError) as caught:
        parsed = parse_flags(text, styles=DEFAULT_STYLES, max_seconds=4.0)
        merge_options(parsed, options, styles=DEFAULT_STYLES, max_seconds=4.0)
    return str(caught.value)


async def test_a_prompt_with_flags_is_queued_for_the_tokens_member_and_guild(api: Api) -> None:
    answer = await api.post_clip({"prompt": "a fox in the snow -motion 3 -ar 9:16"})
    assert answer.status == 202, answer.body
    body = answer.body
    gid = body["id"]
    assert body["status"] == "queued"
    assert body["queue_position"] == 1
    assert body["links"] == {
        "self": f"{api.url}/v1/clips/{gid}",
        "events": f"{api.url}/v1/clips/{gid}/events",
        "cancel": f"{api.url}/v1/clips/{gid}/cancel",
        "gallery": f"http://gallery.test/clips/{gid}",
    }
    assert answer.headers["Location"] == body["links"]["self"]
    row = api.ctx.store.get(gid)
    assert row is not None and row.status == "queued"
    assert (row.owner_id, row.guild_id, row.motion, row.aspect_ratio) == (MEMBER, GUILD, 3, "9:16")
    api_clip = api.ctx.api_clips.get(gid)
    assert api_clip is not None and api.token.split("_")[1] == api_clip.token_id
    assert await api.ctx.admission.position(gid) == 1  # in the fair queue, as Discord's


async def test_settings_as_fields_make_the_same_clip_as_the_same_flags(api: Api) -> None:
    inline = await api.post_clip({"prompt": "a fox -motion 3 -ar 9:16 -seed 7 -camera acw"})
    fields = await api.post_clip(
        {"prompt": "a fox", "motion": 3, "aspect_ratio": "9:16", "seed": 7, "camera": "acw"}
    )
    assert inline.status == fields.status == 202
    rows = [api.ctx.store.get(a.body["id"]) for a in (inline, fields)]
    specs = [RenderSpec.model_validate(row.spec) for row in rows]
    assert specs[0].model_dump() == specs[1].model_dump()
    assert specs[0].camera == "rotate counterclockwise"


@pytest.mark.parametrize(
    "body, text, options",
    [
        ({"prompt": "a fox -motion 2", "motion": 3}, "a fox -motion 2", {"motion": 3}),
        ({"prompt": "a fox -motoin 3"}, "a fox -motoin 3", {}),
        ({"prompt": "a fox", "motion": 9}, "a fox", {"motion": 9}),
        ({"prompt": "a fox -ar 40:1"}, "a fox -ar 40:1", {}),
        ({"prompt": "a fox", "style": "nope"}, "a fox", {"style": "nope"}),
    ],
)
async def test_a_setting_that_cant_be_read_is_refused_in_the_bots_words(
    api: Api, body: dict, text: str, options: dict
) -> None:
    answer = await api.post_clip(body)
    assert answer.status == 422
    assert answer.content_type == "application/problem+json"
    assert answer.body["type"] == "urn:reelbot:problem:invalid-settings"
    assert answer.detail == flag_words(text, **options)
    assert api.ctx.store.list_unfinished() == []


async def test_sound_from_a_model_that_makes_none_is_refused_as_the_flag_is(
    redis_server, redis, tmp_path
) -> None:
    silent = capabilities_for("tiny").model_copy(update={"sound": False, "adds_sound": False})
    data = tmp_path / "data"
    async with open_api(
        redis_server.url, f"sqlite:///{data / 'r.db'}", data, capabilities=silent
    ) as api:
        answer = await api.post_clip({"prompt": "a fox", "sound": True})
        assert answer.status == 422
        assert answer.detail == "`sound`: the model loaded right now makes no sound."
        flag = await api.post_clip({"prompt": "a fox -sound"})
        assert flag.detail == "`-sound`: the model loaded right now makes no sound."
        assert api.ctx.store.list_unfinished() == []


async def test_an_unknown_field_is_named_not_dropped(api: Api) -> None:
    answer = await api.post_clip({"prompt": "a fox", "moton": 3})
    assert answer.status == 422
    assert "`moton` isn't a field of a clip request" in answer.detail
    assert "motion" in answer.detail


async def test_a_body_that_is_not_a_json_object_is_a_400(api: Api) -> None:
    answer = await api.call(
        "POST", "/v1/clips", data=b"{nope", headers={"Content-Type": "application/json"}
    )
    assert answer.status == 400 and "not valid JSON" in answer.detail
    answer = await api.call("POST", "/v1/clips", json_body=[1, 2])
    assert answer.status == 400 and "JSON object" in answer.detail
    answer = await api.post_clip({})
    assert answer.status == 422 and "prompt" in answer.detail


async def test_a_blocked_prompt_is_refused_with_the_policys_reason(api: Api) -> None:
    reason = api.ctx.prompt_policy.check("nude child", "", None).reason
    answer = await api.post_clip({"prompt": "nude child"})
    assert answer.status == 422
    assert answer.body["type"] == "urn:reelbot:problem:content-blocked"
    assert answer.detail == f"I can't make this clip: {reason}"


async def test_a_token_without_clips_write_is_told_which_scope_it_needs(api: Api) -> None:
    reader = api.issue(scopes=("clips:read",))
    answer = await api.post_clip({"prompt": "a fox"}, token=reader)
    assert answer.status == 403
    assert answer.body["type"] == "urn:reelbot:problem:missing-scope"
    assert "`clips:write`" in answer.detail and "`clips:read`" in answer.detail


async def test_a_banned_members_tokens_stop_within_a_second(api: Api) -> None:
    clock = Clock()
    api.ctx.bans = Bans(api.ctx.moderation_store, ttl=FRESH_S, clock=clock)
    assert (await api.call("GET", "/v1/clips")).status == 200
    api.ctx.moderation_store.ban(MEMBER, GUILD, created_by="discord:9", reason="spam")
    clock.seconds += FRESH_S  # the answer read before the ban is a second old: read again
    answer = await api.call("GET", "/v1/clips")
    assert answer.status == 403
    assert answer.detail == "A moderator has stopped you making clips here for good (spam)."
    answer = await api.post_clip({"prompt": "a fox"})
    assert answer.status == 403
    other_guild = api.issue(guild_id=GUILD + 1)  # a ban is per guild, as in Discord
    assert (await api.post_clip({"prompt": "a fox"}, token=other_guild)).status == 202
    # a token made in DMs acts anywhere, so a ban in any guild stops it
    from_dms = api.issue(guild_id=None)
    answer = await api.call("GET", "/v1/clips", token=from_dms)
    assert answer.status == 403 and "(spam)" in answer.detail


async def test_a_webhook_url_must_be_https_and_is_kept_on_the_clip(api: Api) -> None:
    refused = await api.post_clip({"prompt": "a fox", "webhook_url": "http://example.com/h"})
    assert refused.status == 422
    assert refused.body["type"] == "urn:reelbot:problem:bad-webhook-url"
    assert "https://" in refused.detail
    taken = await api.post_clip({"prompt": "a fox", "webhook_url": "https://example.com/h"})
    assert taken.status == 202
    assert api.ctx.api_clips.get(taken.body["id"]).webhook_url == "https://example.com/h"


async def test_over_the_in_flight_cap_is_a_429_in_the_bots_words(
    redis_server, redis, tmp_path
) -> None:
    data = tmp_path / "data"
    async with open_api(
        redis_server.url, f"sqlite:///{data / 'r.db'}", data, max_in_flight=1
    ) as api:
        assert (await api.post_clip({"prompt": "a fox"})).status == 202
        answer = await api.post_clip({"prompt": "a cat"})
        assert answer.status == 429
        assert answer.body["type"] == "urn:reelbot:problem:over-cap"
        assert answer.detail.startswith("You have 1 clip waiting or rendering — wait for one")
        assert int(answer.headers["Retry-After"]) > 0
        assert len(api.ctx.store.list_unfinished()) == 1


async def test_past_the_tokens_rate_a_write_is_a_429_with_retry_after(
    redis_server, redis, tmp_path
) -> None:
    data = tmp_path / "data"
    async with open_api(
        redis_server.url, f"sqlite:///{data / 'r.db'}", data, api_rate_per_min=2
    ) as api:
        for _ in range(2):
            assert (await api.post_clip({"prompt": "a fox"})).status == 202
        answer = await api.post_clip({"prompt": "a fox"})
        assert answer.status == 429
        assert answer.body["type"] == "urn:reelbot:problem:rate-limited"
        assert 1 <= int(answer.headers["Retry-After"]) <= 60
        assert "2 requests" in answer.detail
        assert (await api.call("GET", "/v1/clips")).status == 200  # reads are not counted
        other = api.issue("discord:2002")  # per token
        assert (await api.post_clip({"prompt": "a fox"}, token=other)).status == 202


async def test_a_body_over_the_cap_is_a_413_problem_before_it_is_read(
    redis_server, redis, tmp_path
) -> None:
    data = tmp_path / "data"
    async with open_api(
        redis_server.url, f"sqlite:///{data / 'r.db'}", data, api_max_body_bytes=4096
    ) as api:
        answer = await api.call(
            "POST",
            "/v1/clips",
            data=b"x" * 10_000,
            headers={"Content-Type": "application/json"},
        )
        assert answer.status == 413
        assert answer.content_type == "application/problem+json"
        assert "4,096 bytes" in answer.detail
        long_json = await api.post_clip({"prompt": "a fox " * 20_000})
        assert long_json.status == 413
