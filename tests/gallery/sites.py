"""A gallery app behind a real HTTP client, with helpers to add clips: shared by the web tests."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from gallery.community import CommunityStore
from gallery.media import LocalMediaStore
from gallery.store import GalleryStore
from gallery.web import create_app
from tests.gallery.factories import add_done, new_id

TOKEN = "s3cret-admin-token-0123456789abcdef-long"
BEARER = {"Authorization": f"Bearer {TOKEN}"}
PUBLIC_URL = "https://clips.example/"
XSS = 'a cat <script>alert(1)</script> and "><img src=x onerror=alert(1)>'
VIDEO = bytes(range(256)) * 40


@dataclass
class Site:
    client: TestClient[web.Request, web.Application]
    store: GalleryStore
    media: LocalMediaStore
    community: CommunityStore

    def add(self, **overrides: object) -> str:
        gid = new_id()
        self.media.path_for(gid).write_bytes(VIDEO)
        add_done(
            self.store,
            id=gid,
            media_path=self.media.relative_path(gid),
            size_bytes=len(VIDEO),
            **overrides,
        )
        return gid

    async def text(self, path: str, status: int = 200, **kwargs: object) -> str:
        response = await self.client.get(path, **kwargs)  # type: ignore[arg-type]
        assert response.status == status, (path, response.status)
        return await response.text()

    async def raw(self, request: bytes) -> bytes:
        """What the server answers to `request`, bytes as they are: for requests an HTTP client
        will not send (bytes that are not UTF-8, broken bodies, odd request lines)."""
        reader, writer = await asyncio.open_connection(self.client.host, self.client.port)
        writer.write(request)
        await writer.drain()
        answer = await reader.read()
        writer.close()
        return answer

    async def json(self, path: str, status: int = 200) -> dict:
        response = await self.client.get(path)
        assert response.status == status, (path, response.status)
        return await response.json(content_type=None)  # type: ignore[no-any-return]


@asynccontextmanager
async def open_site(
    store: GalleryStore, media: LocalMediaStore, token: str | None = TOKEN
) -> AsyncIterator[Site]:
    app = create_app(store, media, public_url=PUBLIC_URL, admin_token=token)
    async with TestClient(TestServer(app)) as client:
        yield Site(client, store, media, CommunityStore(store.engine))
