"""A story's page in the gallery: each shot in order with its words, playable on its own."""

from __future__ import annotations

import html as htmllib
import re
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from core.spec import RenderSpec
from gallery.media import LocalMediaStore
from gallery.store import GalleryStore
from gallery.web import create_app
from tests.gallery.factories import add_done

SHOTS = ["a knight <b>rides</b> out", 'the knight meets a "dragon"', "they share tea & cake"]
STORY = RenderSpec(
    prompt=" | ".join(SHOTS),
    aspect_ratio="1:1",
    width=64,
    height=64,
    num_frames=16 + 24 + 16,  # the second shot has its own -len 3
    fps=8,
    steps=4,
    seed=42,
    mode="story",
    shot_flags=({}, {"num_frames": 24, "camera": "pan left"}, {}),
)


@pytest.fixture
async def client(
    sqlite_store: GalleryStore, media: LocalMediaStore
) -> AsyncIterator[TestClient[web.Request, web.Application]]:
    app = create_app(sqlite_store, media, public_url="https://clips.example/")
    async with TestClient(TestServer(app)) as opened:
        yield opened


def add_clip(store: GalleryStore, spec: RenderSpec) -> str:
    stored = spec.model_dump(mode="json")
    return add_done(store, spec=stored, **{k: stored[k] for k in ("prompt", "seed", "fps")})


async def test_the_story_page_plays_each_shot_in_order_with_its_words(
    client: TestClient[web.Request, web.Application], sqlite_store: GalleryStore
) -> None:
    gid = add_clip(sqlite_store, STORY)

    page = await (await client.get(f"/clips/{gid}")).text()

    [listed] = re.findall(r'<ol class="shots">(.*?)</ol>', page, re.S)
    items = re.findall(r'<li class="shot">(.*?)</li>', listed, re.S)
    sources = [re.search(r'<video [^>]*src="([^"]+)"', item)[1] for item in items]
    assert sources == [  # the story's own scanned MP4, one fragment a shot
        f"/media/{gid}.mp4#t=0,2",
        f"/media/{gid}.mp4#t=2,5",
        f"/media/{gid}.mp4#t=5,7",
    ]
    words = [htmllib.unescape(re.sub(r"<[^>]+>", "", item)).split(" ", 1)[1] for item in items]
    assert words == SHOTS  # in order, each its own words
    assert "<b>rides</b>" not in page and "&lt;b&gt;rides&lt;/b&gt;" in page  # escaped
    assert "0:02" in items[1] and "0:05" in items[2]
    assert f"{gid}.s0.mp4" not in page  # the worker's unscanned shots are never linked


async def test_a_plain_clip_has_no_shots(
    client: TestClient[web.Request, web.Application], sqlite_store: GalleryStore
) -> None:
    plain = add_clip(
        sqlite_store, STORY.model_copy(update={"mode": "t2v", "shot_flags": (), "prompt": "a"})
    )
    page = await (await client.get(f"/clips/{plain}")).text()
    assert 'class="shots"' not in page


async def test_the_story_page_gives_the_story_command_that_remakes_it(
    client: TestClient[web.Request, web.Application], sqlite_store: GalleryStore
) -> None:
    gid = add_clip(sqlite_store, STORY)
    page = await (await client.get(f"/clips/{gid}")).text()
    [command] = re.findall(r'<code class="command">(.*?)</code>', page, re.S)
    # /create would read `-camera pan left | …` as one camera move and refuse the line
    assert htmllib.unescape(command) == (
        '/story prompt: a knight <b>rides</b> out | the knight meets a "dragon" -camera pan left '
        "-len 3 | they share tea & cake -ar 1:1 -fps 8 -len 2 -seed 42"
    )
    assert "<b>rides" not in command  # escaped
