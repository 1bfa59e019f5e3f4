"""A story through the REST API: `POST /v1/clips` with `"story": true` is read as /story reads
it (shots, each shot's own flags, the story's), costs a clip per shot against the daily cap,
and `GET /v1/clips/{id}` lists its shots in order."""

from __future__ import annotations

from pathlib import Path

from core.spec import RenderSpec
from tests.api.conftest import Api, open_api

STORY = "a fox wakes -camera pan left | the fox runs -len 3 -motion 3 | the fox sleeps -seed 5"


async def test_a_story_is_one_clip_of_its_shots_each_with_its_own_flags(api: Api) -> None:
    answer = await api.post_clip({"prompt": STORY, "story": True, "length": 2})
    assert answer.status == 202, answer.body
    gid = answer.body["id"]
    spec = RenderSpec.model_validate(api.ctx.store.get(gid).spec)
    assert (spec.mode, spec.prompt) == ("story", "a fox wakes | the fox runs | the fox sleeps")
    assert spec.num_frames == (2 + 3 + 2) * spec.fps  # the field is each shot's length
    assert await api.ctx.admission.position(gid) == 1  # one place in the fair queue

    read = await api.call("GET", f"/v1/clips/{gid}")
    assert read.status == 200
    assert read.body["spec"]["mode"] == "story"
    assert read.body["shots"] == [
        {
            "index": 1,
            "prompt": "a fox wakes",
            "start_s": 0.0,
            "end_s": 2.0,
            "camera": "pan left",
            "motion": None,
            "negative": None,
        },
        {
            "index": 2,
            "prompt": "the fox runs",
            "start_s": 2.0,
            "end_s": 5.0,
            "camera": None,
            "motion": 3,
            "negative": None,
        },
        {
            "index": 3,
            "prompt": "the fox sleeps",
            "start_s": 5.0,
            "end_s": 7.0,
            "camera": None,
            "motion": None,
            "negative": None,
        },
    ]
    assert read.body["command"].startswith("a fox wakes -camera pan left | the fox runs")


async def test_a_plain_clip_has_no_shots(api: Api) -> None:
    answer = await api.post_clip({"prompt": "a fox | in the snow"})  # no story: one clip
    read = await api.call("GET", f"/v1/clips/{answer.body['id']}")
    assert read.body["shots"] is None and read.body["spec"]["mode"] == "t2v"


async def test_a_bad_story_is_refused_in_the_bots_words(api: Api) -> None:
    answer = await api.post_clip({"prompt": "one shot only", "story": True})
    assert answer.status == 422
    assert "A story takes 2 to 8 shots separated by |, got 1" in answer.detail
    answer = await api.post_clip({"prompt": "a -ar 9:16 | b", "story": True})
    assert answer.status == 422
    assert "`-ar` in shot 1 of the story" in answer.detail
    answer = await api.post_clip({"prompt": "a | b", "story": True, "action": "reroll"})
    assert answer.status == 422 and "A story starts from its text here" in answer.detail
    assert api.ctx.store.list_unfinished() == []


async def test_a_story_counts_each_shot_against_the_daily_cap(
    redis_server, redis, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    async with open_api(redis_server.url, f"sqlite:///{data / 'r.db'}", data, max_per_day=2) as api:
        answer = await api.post_clip({"prompt": "a | b | c", "story": True})
        assert answer.status == 429, answer.body
        assert "A story counts each of its shots, and this one has 3" in answer.detail
        assert (await api.post_clip({"prompt": "a | b", "story": True})).status == 202
