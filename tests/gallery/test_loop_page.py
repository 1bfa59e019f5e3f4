"""A loop's page in the gallery: it plays as a loop, says so, and its line pastes back as -loop."""

from __future__ import annotations

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

SPEC = RenderSpec(
    prompt="a paper boat on a rainy street",
    aspect_ratio="1:1",
    width=64,
    height=64,
    num_frames=16,
    fps=8,
    steps=4,
    seed=42,
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


async def test_a_loop_plays_as_a_loop_and_says_so(
    client: TestClient[web.Request, web.Application], sqlite_store: GalleryStore
) -> None:
    looped = add_clip(sqlite_store, SPEC.model_copy(update={"loop": True}))
    plain = add_clip(sqlite_store, SPEC)

    html = await (await client.get(f"/clips/{looped}")).text()
    [player] = re.findall(r"<video class=\"player\"[^>]*>", html)
    assert re.search(r"\sloop\s", player) and f'src="/media/{looped}.mp4"' in player
    assert "seamless: it ends on its first frame" in html
    [command] = re.findall(r'<code class="command">([^<]*)</code>', html)
    assert command.endswith("-loop -seed 42")

    html = await (await client.get(f"/clips/{plain}")).text()
    assert "seamless" not in html and "-loop" not in html
