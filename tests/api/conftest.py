"""A real REST API for the tests: the app served on a free port, on the session's real Redis
(flushed per test) and a fresh database (SQLite, or PostgreSQL through `api_on`), with a token
issued to a member, and a client that sends it.

The API is built as `run_api` builds it (`ApiContext.assemble` over a connected queue and a
migrated engine); only the model's capabilities (tiny) and the policy (the shipped one) are
fixed here, and no worker runs unless a test starts one.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from api.app import bound_port, close_context, serving
from api.context import ApiContext
from api.settings import ApiSettings
from cli.local_redis import LocalRedis
from core.capabilities import capabilities_for
from core.policy import default_policy
from core.rendercaps import Capabilities
from gallery.db import make_engine, migrate
from gallery.media import LocalMediaStore
from intake.submit import connect_queue
from jobs.admission import Admission
from tests.gallery.conftest import pg_admin_url, pg_database_url

__all__ = ["pg_admin_url", "pg_database_url"]  # PostgreSQL fixtures, found by these names

GALLERY_URL = "http://gallery.test"
MEMBER = "discord:1001"
GUILD = 42
ALL_SCOPES = ("clips:read", "clips:write", "webhooks:manage")


@dataclass
class Answer:
    """What the API said: status, headers and the body (JSON when it is JSON)."""

    status: int
    headers: Mapping[str, str]
    body: Any
    content_type: str

    @property
    def detail(self) -> str:
        return str(self.body.get("detail", "")) if isinstance(self.body, dict) else ""


@dataclass
class Api:
    url: str
    ctx: ApiContext
    http: aiohttp.ClientSession
    token: str  # every scope, for MEMBER in GUILD
    tokens: dict[str, str] = field(default_factory=dict)

    def issue(
        self,
        member_id: str = MEMBER,
        *,
        guild_id: int | None = GUILD,
        scopes: tuple[str, ...] = ALL_SCOPES,
        name: str = "tests",
    ) -> str:
        """A new token's plaintext, made as `/api token` makes one."""
        issued = self.ctx.tokens.create(member_id, guild_id, name, scopes, created_by=member_id)
        return issued.plaintext

    async def call(
        self,
        method: str,
        path: str,
        *,
        token: str | None = "",
        json_body: Any = None,
        data: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> Answer:
        """One request; `token` "" sends the fixture's token, None sends none."""
        sent = dict(headers or {})
        chosen = self.token if token == "" else token
        if chosen is not None:
            sent["Authorization"] = f"Bearer {chosen}"
        async with self.http.request(
            method, self.url + path, json=json_body, data=data, headers=sent
        ) as response:
            raw = await response.read()
            kind = response.content_type
            body: Any = raw
            if kind.endswith("json"):
                body = json.loads(raw)
            return Answer(response.status, dict(response.headers), body, kind)

    async def post_clip(self, body: Mapping[str, Any], **options: Any) -> Answer:
        return await self.call("POST", "/v1/clips", json_body=dict(body), **options)


@contextlib.asynccontextmanager
async def open_api(
    redis_url: str,
    database_url: str,
    data_dir: Path,
    *,
    capabilities: Capabilities | None = None,
    **settings: Any,
) -> AsyncIterator[Api]:
    """The API served on 127.0.0.1 at a free port until the block ends."""
    options: dict[str, Any] = {
        "data_dir": data_dir,
        "database_url": database_url,
        "public_url": GALLERY_URL,
        "api_host": "127.0.0.1",
        "api_port": 0,
        "redis_url": redis_url,
        "toxicity_threshold": 0,
        **settings,
    }
    config = ApiSettings(_env_file=None, **options)  # type: ignore[call-arg]
    queue = await connect_queue(redis_url)
    engine = make_engine(database_url)
    migrate(engine)
    ctx = ApiContext.assemble(
        settings=config,
        engine=engine,
        queue=queue,
        admission=Admission(queue),
        media_store=LocalMediaStore(data_dir / "media"),
        capabilities=capabilities or capabilities_for("tiny"),
        policy=default_policy(),
    )
    try:
        async with serving(ctx, "127.0.0.1", 0) as runner:
            url = f"http://127.0.0.1:{bound_port(runner)}"
            ctx.api_url = url
            async with aiohttp.ClientSession() as http:
                api = Api(url, ctx, http, token="")
                api.token = api.issue()
                yield api
    finally:
        await close_context(ctx)


@pytest.fixture
async def api(redis_server: LocalRedis, redis: object, tmp_path: Path) -> AsyncIterator[Api]:
    """The API on SQLite."""
    data = tmp_path / "data"
    async with open_api(redis_server.url, f"sqlite:///{data / 'reelbot.db'}", data) as opened:
        yield opened


@pytest.fixture(params=["sqlite", "postgresql"])
async def api_on(
    request: pytest.FixtureRequest, redis_server: LocalRedis, redis: object, tmp_path: Path
) -> AsyncIterator[Api]:
    """The API on each supported database."""
    data = tmp_path / "data"
    url = f"sqlite:///{data / 'reelbot.db'}"
    if request.param == "postgresql":
        url = request.getfixturevalue("pg_database_url")
    async with open_api(redis_server.url, url, data) as opened:
        yield opened
