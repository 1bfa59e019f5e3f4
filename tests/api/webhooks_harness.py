"""What the webhook tests share: a real receiver (an aiohttp server that checks each delivery's
signature with the reference `standardwebhooks` library and answers as told), the API served
with webhook timings short enough for tests, and API clips moved through their states as a
worker moves them (`GalleryStore.mark_rendering`, `mark_done`, `mark_failed`)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from standardwebhooks import Webhook, WebhookVerificationError

from api.app import FEATURES, bound_port, close_context, make_app
from api.context import ApiContext
from api.feature import Feature
from api.settings import ApiSettings
from api.webhooks.deliver import WebhookConfig, run_webhooks
from api.webhooks.routes import FEATURE as WEBHOOKS
from core.capabilities import capabilities_for
from core.policy import default_policy
from gallery.db import make_engine, migrate
from gallery.media import LocalMediaStore
from gallery.webhook_outbox import Retry
from intake.submit import connect_queue
from jobs.admission import Admission
from tests.api.conftest import ALL_SCOPES, GALLERY_URL, GUILD, MEMBER, Api
from tests.gallery.factories import generation

# Seconds, not hours: retries come fast, a lease ends soon after a process dies.
FAST = WebhookConfig(
    retry=Retry(first_s=0.05, cap_s=0.2),
    poll_s=0.05,
    sweep_s=1.0,
    lease=timedelta(seconds=2),
    timeout_s=0.5,
)


@dataclass
class Delivery:
    """One request the receiver got."""

    headers: dict[str, str]
    body: bytes
    verified: bool

    @property
    def id(self) -> str:
        return self.headers.get("webhook-id", "")

    @property
    def event(self) -> dict[str, Any]:
        return dict(json.loads(self.body))

    @property
    def type(self) -> str:
        return str(self.event["type"])


@dataclass
class Receiver:
    """A webhook receiver on 127.0.0.1. `answers` are used in turn, then `default`: an HTTP
    status, "hang" (never answers until stopped), or ("redirect", url)."""

    secret: str | None = None
    answers: list[Any] = field(default_factory=list)
    default: Any = 200
    got: list[Delivery] = field(default_factory=list)
    port: int = 0
    _runner: web.AppRunner | None = None
    _release: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    async def start(self) -> Receiver:
        app = web.Application()
        app.router.add_post("/hook", self._hook)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port)
        await site.start()
        self.port = bound_port(self._runner)
        self._release = asyncio.Event()
        return self

    async def stop(self) -> None:
        self._release.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _hook(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        headers = {k.lower(): v for k, v in request.headers.items()}
        verified = False
        if self.secret is not None:
            try:
                Webhook(self.secret).verify(body, headers)
                verified = True
            except WebhookVerificationError:
                pass
        self.got.append(Delivery(headers, body, verified))
        answer = self.answers.pop(0) if self.answers else self.default
        if answer == "hang":
            await self._release.wait()
            return web.Response(status=200)
        if isinstance(answer, tuple):
            raise web.HTTPFound(answer[1])
        return web.Response(status=int(answer), text="ok" if answer < 300 else "no")

    def types(self, generation_id: str | None = None) -> list[str]:
        got = self.got
        if generation_id is not None:
            got = [d for d in got if d.event["data"]["id"] == generation_id]
        return [d.type for d in got]


@contextlib.asynccontextmanager
async def receiver(**options: Any) -> AsyncIterator[Receiver]:
    r = await Receiver(**options).start()
    try:
        yield r
    finally:
        await r.stop()


def with_webhooks(config: WebhookConfig) -> tuple[Feature, ...]:
    """The API's features, the webhook loops running with `config`."""

    async def loop(ctx: ApiContext) -> None:
        await run_webhooks(ctx, config)

    fast = Feature(WEBHOOKS.routes, WEBHOOKS.operations, loops=(loop,))
    return tuple(fast if feature is WEBHOOKS else feature for feature in FEATURES)


def settings_for(redis_url: str, database_url: str, data_dir: Path, **more: Any) -> ApiSettings:
    options: dict[str, Any] = {
        "data_dir": data_dir,
        "database_url": database_url,
        "public_url": GALLERY_URL,
        "redis_url": redis_url,
        "toxicity_threshold": 0,
        "api_webhook_allow_http": True,
        "api_webhook_allow_private": True,
        **more,
    }
    return ApiSettings(_env_file=None, **options)  # type: ignore[call-arg]


async def context_for(settings: ApiSettings) -> ApiContext:
    queue = await connect_queue(settings.redis_url)
    engine = make_engine(settings.resolved_database_url())
    migrate(engine)
    return ApiContext.assemble(
        settings=settings,
        engine=engine,
        queue=queue,
        admission=Admission(queue),
        media_store=LocalMediaStore(settings.data_dir / "media"),
        capabilities=capabilities_for("tiny"),
        policy=default_policy(),
    )


@contextlib.asynccontextmanager
async def webhook_api(
    redis_url: str,
    database_url: str,
    data_dir: Path,
    *,
    config: WebhookConfig = FAST,
    **settings: Any,
) -> AsyncIterator[Api]:
    """The API (webhook loops at `config`) on 127.0.0.1, a token for MEMBER with every scope;
    http and private addresses allowed unless `settings` say otherwise."""
    ctx = await context_for(settings_for(redis_url, database_url, data_dir, **settings))
    runner = web.AppRunner(make_app(ctx, with_webhooks(config)), access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        url = f"http://127.0.0.1:{bound_port(runner)}"
        ctx.api_url = url
        async with aiohttp.ClientSession() as http:
            api = Api(url, ctx, http, token="")
            api.token = api.issue(MEMBER, guild_id=GUILD, scopes=ALL_SCOPES)
            yield api
    finally:
        await runner.cleanup()
        await close_context(ctx)


def token_of(api: Api, plaintext: str | None = None) -> tuple[str, str]:
    """(token id, its webhook secret) of a plaintext token (default: the fixture's)."""
    token = api.ctx.tokens.verify(plaintext or api.token)
    assert token is not None
    return token.id, token.webhook_secret


def add_api_clip(api: Api, *, webhook_url: str | None = None, token: str | None = None) -> str:
    """A queued clip asked through `token` (default: the fixture's), as POST /v1/clips
    records one; its generation id."""
    new = generation(owner_id=MEMBER)
    assert api.ctx.store.add_generation(new)
    token_id, _ = token_of(api, token)
    assert api.ctx.api_clips.record(new.id, token_id, webhook_url=webhook_url)
    return new.id


def render(api: Api, generation_id: str, **done: Any) -> None:
    """Take a clip through rendering to done, as a worker does."""
    store = api.ctx.store
    store.mark_rendering(generation_id, worker="test-worker", attempt=1)
    path = f"{generation_id[:2]}/{generation_id}.mp4"
    assert store.mark_done(generation_id, media_path=path, size_bytes=1000, timings={}, **done)
