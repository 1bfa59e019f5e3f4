"""Uploads to POST /v1/clips: a picture to animate, a video to restyle, judged by the same
checks and in the same order as /animate and /restyle (the member's place first, then the
file), refused in the same words."""

from __future__ import annotations

import io
from pathlib import Path

import aiohttp
import pytest
from PIL import Image

from core.capabilities import capabilities_for
from core.errors import UserFacingError
from core.spec import RenderSpec
from intake.media.images import check_image
from tests.api.conftest import Api, open_api
from tests.harness.uploads import mp4

WITH_V2V = capabilities_for("tiny").model_copy(update={"modes": ("t2v", "i2v", "v2v")})


def png(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 80, 30)).save(out, "PNG")
    return out.getvalue()


def form(file_field: str, data: bytes, filename: str, **fields: str) -> aiohttp.FormData:
    body = aiohttp.FormData()
    for name, value in fields.items():
        body.add_field(name, value)
    body.add_field(file_field, data, filename=filename, content_type="application/octet-stream")
    return body


@pytest.fixture
async def api_v2v(redis_server, redis, tmp_path: Path):
    data = tmp_path / "data"
    async with open_api(
        redis_server.url, f"sqlite:///{data / 'r.db'}", data, capabilities=WITH_V2V
    ) as opened:
        yield opened


async def test_a_picture_is_animated_in_its_own_shape_and_stored_under_the_clips_id(
    api: Api,
) -> None:
    answer = await api.call(
        "POST", "/v1/clips", data=form("image", png(300, 200), "fox.png", motion="3")
    )
    assert answer.status == 202, answer.body
    gid = answer.body["id"]
    spec = RenderSpec.model_validate(api.ctx.store.get(gid).spec)
    assert (spec.mode, spec.aspect_ratio, spec.motion) == ("i2v", "3:2", 3)
    assert spec.prompt == "animate this image"  # no prompt: /animate's words for the model
    [stored] = spec.input_media
    assert stored.startswith(gid[:2]) and gid in stored
    assert api.ctx.media_store.resolve(stored).exists()


async def test_a_file_that_is_no_picture_is_refused_in_animates_words(api: Api) -> None:
    with pytest.raises(UserFacingError) as caught:
        check_image(b"not a picture at all", "fox.png")
    answer = await api.call(
        "POST", "/v1/clips", data=form("image", b"not a picture at all", "fox.png")
    )
    assert answer.status == 422
    assert answer.body["type"] == "urn:reelbot:problem:bad-upload"
    assert answer.detail == str(caught.value)
    assert api.ctx.store.list_unfinished() == []


async def test_a_picture_over_10_mb_is_a_413_in_animates_words(api: Api) -> None:
    answer = await api.call(
        "POST", "/v1/clips", data=form("image", b"\0" * (12 * 1024 * 1024), "big.png")
    )
    assert answer.status == 413
    assert answer.detail.startswith("`big.png` is 12.0 MB; pictures for /animate can be at most")


async def test_caps_come_before_the_file_is_judged(redis_server, redis, tmp_path: Path) -> None:
    data = tmp_path / "data"
    async with open_api(
        redis_server.url, f"sqlite:///{data / 'r.db'}", data, max_in_flight=1
    ) as api:
        refused = await api.call("POST", "/v1/clips", data=form("image", b"junk", "x.png"))
        assert refused.status == 422  # its place was held, then given back
        assert (await api.post_clip({"prompt": "a fox"})).status == 202
        over = await api.call("POST", "/v1/clips", data=form("image", b"junk", "x.png"))
        assert over.status == 429  # over the cap: told so, not that the file is bad


async def test_a_video_is_restyled_in_its_shape_and_length(api_v2v: Api) -> None:
    video = mp4(2.0, size=(128, 96), fps=12)
    answer = await api_v2v.call(
        "POST",
        "/v1/clips",
        data=form("video", video, "walk.mp4", prompt="a watercolor painting", length="1"),
    )
    assert answer.status == 202, answer.body
    spec = RenderSpec.model_validate(api_v2v.ctx.store.get(answer.body["id"]).spec)
    assert (spec.mode, spec.aspect_ratio) == ("v2v", "4:3")
    assert spec.num_frames == spec.fps  # -len 1: its first second
    assert any("first 1 s" in note or "1 s" in note for note in answer.body["notes"])


async def test_a_video_with_a_camera_move_is_refused_in_restyles_words(api_v2v: Api) -> None:
    answer = await api_v2v.call(
        "POST",
        "/v1/clips",
        data=form("video", mp4(1.0), "walk.mp4", prompt="a painting -camera zoom in"),
    )
    assert answer.status == 422
    assert "/restyle keeps your video's own camera and motion" in answer.detail


async def test_a_model_without_the_mode_says_so(api: Api) -> None:
    answer = await api.call(
        "POST", "/v1/clips", data=form("video", mp4(1.0), "walk.mp4", prompt="a painting")
    )
    assert answer.status == 422
    assert answer.detail.startswith("The model loaded right now (`tiny`) can't restyle videos.")
