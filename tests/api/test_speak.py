"""/speak through POST /v1/clips: `speak` with an `image` and a `voice` file or a `say` line,
checked by `intake.speak` and `intake.media.voices` as Discord's /speak is, refused in its words
(naming the API's fields) as problem documents."""

from __future__ import annotations

import io
from pathlib import Path

import aiohttp
from PIL import Image

from core.capabilities import capabilities_for
from core.fairshare import queue_of
from core.speak import MAX_VOICE_BYTES, VOICE_KIND
from core.spec import RenderSpec
from jobs.liveness import Liveness
from tests.api.conftest import Api, open_api
from tests.intake.test_speak import wav


def png(width: int = 256, height: int = 256) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (120, 90, 60)).save(out, "PNG")
    return out.getvalue()


def form(
    picture: bytes | None = png(), voice: bytes | None = None, **fields: str
) -> aiohttp.FormData:
    body = aiohttp.FormData()
    for name, value in {"speak": "true", **fields}.items():
        body.add_field(name, value)
    if picture is not None:
        body.add_field("image", picture, filename="face.png", content_type="image/png")
    if voice is not None:
        body.add_field("voice", voice, filename="hello.wav", content_type="audio/wav")
    return body


def spec_of(api: Api, gid: str) -> RenderSpec:
    return RenderSpec.model_validate(api.ctx.store.get(gid).spec)


async def test_a_picture_speaks_a_voice_as_long_as_the_voice(api: Api) -> None:
    answer = await api.call("POST", "/v1/clips", data=form(voice=wav(1.5), seed="7"))
    assert answer.status == 202, answer.body
    gid = answer.body["id"]
    spec = spec_of(api, gid)
    assert spec.mode == "speak" and spec.seed == 7 and spec.speak_text in (None, "")
    picture, voice = spec.input_media
    assert voice.endswith(VOICE_KIND) and gid in picture and gid in voice
    assert api.ctx.media_store.resolve(voice).exists()
    assert abs(spec.num_frames / spec.fps - 1.5) <= 1 / spec.fps + 1e-6
    assert "Your picture speaks your 1.5 s voice; it is the clip's sound." in answer.body["notes"]


async def test_a_picture_says_a_typed_line(api: Api) -> None:
    answer = await api.call("POST", "/v1/clips", data=form(say="Hello there, friend."))
    assert answer.status == 202, answer.body
    spec = spec_of(api, answer.body["id"])
    assert spec.mode == "speak" and spec.speak_text == "Hello there, friend."
    assert len(spec.input_media) == 1


async def test_what_speak_cant_take_is_refused_in_its_words(api: Api) -> None:
    neither = await api.call("POST", "/v1/clips", data=form())
    assert neither.status == 422 and "(`voice`)" in neither.detail and "(`say`)" in neither.detail
    both = await api.call("POST", "/v1/clips", data=form(voice=wav(1), say="hi"))
    assert both.status == 422 and "not both" in both.detail
    no_picture = await api.post_clip({"speak": True, "say": "hi"})
    assert no_picture.status == 422 and no_picture.body["type"].endswith(":speak-picture")
    not_audio = await api.call("POST", "/v1/clips", data=form(voice=b"plain text, no sound"))
    assert not_audio.status == 422 and not_audio.body["type"].endswith(":bad-upload")
    too_long = await api.call("POST", "/v1/clips", data=form(voice=wav(25)))
    assert too_long.status == 422 and "20" in too_long.detail
    too_big = await api.call("POST", "/v1/clips", data=form(voice=b"\0" * (MAX_VOICE_BYTES + 1)))
    assert too_big.status == 413 and "voices for /speak" in too_big.detail
    looped = await api.call("POST", "/v1/clips", data=form(say="hi", prompt="a face -loop"))
    assert looped.status == 422 and "`-loop` can't be used with /speak" in looped.detail
    motion = await api.call("POST", "/v1/clips", data=form(say="hi", motion="3"))
    assert motion.status == 422 and "`motion`" in motion.detail
    stray = await api.post_clip({"prompt": "a fox", "say": "hi"})
    assert stray.status == 422 and stray.body["type"].endswith(":speak-fields")


async def test_with_no_speaking_worker_in_the_fleet_it_is_a_503(
    redis_server, redis, tmp_path: Path
) -> None:
    data, vace = tmp_path / "data", capabilities_for("wan_vace")  # edits, never speaks
    async with open_api(
        redis_server.url, f"sqlite:///{data / 'r.db'}", data, capabilities=vace
    ) as api:
        await speak_to_a_fleet_that_cant(api)


async def speak_to_a_fleet_that_cant(api: Api) -> None:
    await Liveness(
        api.ctx.queue,
        "wan_vace-0",
        interval_s=1,
        lease_s=15,
        queue=queue_of("fast", "wan_vace"),
        family="wan_vace",
        modes=capabilities_for("wan_vace").all_modes,
    ).beat()
    answer = await api.call("POST", "/v1/clips", data=form(say="hello"))
    assert answer.status == 503 and answer.body["type"].endswith(":no-speaker")
    assert "make pictures speak" in answer.detail


async def test_an_idempotency_key_covers_the_voice(api: Api) -> None:
    key = {"Idempotency-Key": "speak-1"}
    first = await api.call("POST", "/v1/clips", data=form(voice=wav(1)), headers=key)
    again = await api.call("POST", "/v1/clips", data=form(voice=wav(1)), headers=key)
    assert first.status == again.status == 202 and first.body["id"] == again.body["id"]
    other = await api.call("POST", "/v1/clips", data=form(voice=wav(1.2)), headers=key)
    assert other.status == 409 and other.body["type"].endswith(":idempotency-key-reused")
