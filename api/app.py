"""The REST API's aiohttp application: `make_app(ctx)` assembles it, `run_api` serves it.

Middlewares, outermost first: problems (every error is application/problem+json), then the
token (`api.auth`). Bodies are capped by aiohttp itself (`client_max_size`, the setting
REELBOT_API_MAX_BODY_BYTES), checked against Content-Length before a byte is read.

Each feature module hands over a `Feature` (routes, their OpenAPI operations, its background
loops); adding one is one line in `FEATURES`. The loops run while the app is served
(`cleanup_ctx`), the admission loop among them: without one somewhere, queued jobs would never
reach a worker (as `intake.submit.admitting_submitter` says).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

from aiohttp import web
from aiohttp.typedefs import Middleware

from api import batches, clips, events, media
from api.auth import auth_middleware
from api.context import CONTEXT, ApiContext
from api.feature import Feature, Loop
from api.httplog import HTTP_LOG
from api.openapi import Answer, Operation, Operations, openapi_document
from api.problems import Problem, problem_middleware
from api.settings import ApiSettings
from api.webhooks.routes import FEATURE as WEBHOOKS
from core.capabilities import capabilities_for
from core.policy import Policy
from core.stylefile import StyleFile
from gallery.db import make_engine, migrate
from gallery.mediastore import make_media_store
from intake.submit import connect_queue
from intake.toxicity import ToxicityCheck
from jobs.admission import Admission

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


async def run_admission(ctx: ApiContext) -> None:
    await ctx.admission.run()


# --- the routes every API has: its document and its health ---------------------------------

_routes = web.RouteTableDef()
_operations = Operations()
# The document at both paths: /api/openapi.json as the gallery names its own, /v1/openapi.json
# where a proxy that sends only /v1/* to the API (deploy/Caddyfile) still reaches it.
DOCUMENT_PATHS = ("/api/openapi.json", "/v1/openapi.json")
for _path in DOCUMENT_PATHS:
    _operations.add("GET", _path, "This document", {200: Answer("OpenAPI 3.1")})
_operations.add(
    "GET", "/healthz", "Health: the database and Redis answer", {200: Answer("Up"), 503: "Down"}
)

OPERATIONS: web.AppKey[list[Operation]] = web.AppKey("operations")


async def openapi(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT]
    operations: list[Operation] = request.app[OPERATIONS]
    document = openapi_document(operations, api_url=ctx.api_url, gallery_url=ctx.public_url)
    return web.json_response(document)


for _path in DOCUMENT_PATHS:
    _routes.get(_path)(openapi)


@_routes.get("/healthz")
async def healthz(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT]
    try:
        await asyncio.to_thread(ctx.store.ping)
        await ctx.queue.ping()
    except Exception as exc:
        log.warning("health check failed: %r", exc)
        raise Problem(503, "Down", "The database or Redis is not answering.", "down") from None
    return web.json_response({"ok": True})


BASE = Feature(_routes, _operations)
# One line per feature module: its routes, their operations, its loops.
FEATURES: tuple[Feature, ...] = (
    BASE,
    Feature(web.RouteTableDef(), loops=(run_admission,)),
    clips.FEATURE,
    events.FEATURE,
    media.FEATURE,
    batches.FEATURE,
    WEBHOOKS,
)


def body_cap(max_body: int) -> Middleware:
    """A body declared larger than the cap is refused before a byte of it is read (a body
    without a length is stopped at the cap as it is read)."""

    @web.middleware
    async def capped(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.content_length is not None and request.content_length > max_body:
            raise web.HTTPRequestEntityTooLarge(
                max_size=max_body, actual_size=request.content_length
            )
        return await handler(request)

    return capped


def make_app(ctx: ApiContext, features: tuple[Feature, ...] = FEATURES) -> web.Application:
    max_body = ctx.settings.api_max_body_bytes
    app = web.Application(
        middlewares=[problem_middleware(max_body), body_cap(max_body), auth_middleware],
        client_max_size=max_body,
    )
    app[CONTEXT] = ctx
    app[OPERATIONS] = [op for feature in features for op in feature.operations.items]
    for feature in features:
        app.add_routes(feature.routes)
    loops = [loop for feature in features for loop in feature.loops]
    app.cleanup_ctx.append(_running(ctx, loops))
    return app


def _running(
    ctx: ApiContext, loops: list[Loop]
) -> Callable[[web.Application], AsyncIterator[None]]:
    async def running(app: web.Application) -> AsyncIterator[None]:
        tasks = [asyncio.create_task(loop(ctx), name=_name(loop)) for loop in loops]
        for task in tasks:
            task.add_done_callback(_report_death)
        yield
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    return running


def _name(loop: Loop) -> str:
    return getattr(loop, "__qualname__", repr(loop))


def _report_death(task: asyncio.Task[None]) -> None:
    """The loops end only when cancelled; anything else is a bug worth shouting."""
    if not task.cancelled() and task.exception() is not None:
        log.critical("%s stopped", task.get_name(), exc_info=task.exception())


async def build_context(settings: ApiSettings, *, redis_url: str) -> ApiContext:
    """Connect everything as `run_bot` does for the bot: the queue, the database (migrated),
    the admission, the policy and the classifier."""
    queue = await connect_queue(redis_url)
    try:
        engine = make_engine(settings.resolved_database_url())
        await asyncio.to_thread(migrate, engine)
        toxicity = await asyncio.to_thread(ToxicityCheck.load, settings.toxicity_threshold)
        # REELBOT_STYLES_FILE's styles and effects for the family the workers run, as the bot
        styles = await asyncio.to_thread(StyleFile.from_file, settings.styles_file)
        return ApiContext.assemble(
            settings=settings,
            engine=engine,
            queue=queue,
            admission=Admission(queue),
            media_store=make_media_store(settings),
            capabilities=capabilities_for(settings.backend),
            policy=Policy.from_file(settings.policy_file),
            toxicity=toxicity,
            styles=styles.menu(settings.backend),
        )
    except BaseException:
        await queue.aclose()
        raise


async def close_context(ctx: ApiContext) -> None:
    ctx.upload_checks.close()
    await ctx.queue.aclose()
    ctx.engine.dispose()


@contextlib.asynccontextmanager
async def serving(ctx: ApiContext, host: str, port: int) -> AsyncIterator[web.AppRunner]:
    """The app served on host:port until the block ends (port 0: any free one). No access log,
    and aiohttp's own lines through `HTTP_LOG`, which keeps tokens out of them."""
    runner = web.AppRunner(make_app(ctx), access_log=None, logger=HTTP_LOG)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
        yield runner
    finally:
        await runner.cleanup()


def bound_port(runner: web.AppRunner) -> int:
    """The port the runner's first site listens on (for port 0)."""
    for address in runner.addresses:
        if isinstance(address, tuple):
            return int(address[1])
    raise RuntimeError("the API is not listening on a TCP port")


async def run_api(settings: ApiSettings, *, redis_url: str) -> None:
    """Serve the API until cancelled.

    What start-up made (modules, the policy's patterns, the app) lives as long as the process,
    so it is moved out of the garbage collector's sight, as `bot.app.start_settled` does for the
    bot: a burst's collections walk only what the burst made."""
    ctx = await build_context(settings, redis_url=redis_url)
    try:
        async with serving(ctx, settings.api_host, settings.api_port):
            gc.collect()
            gc.freeze()
            log.info("REST API at %s", ctx.api_url)
            await asyncio.Event().wait()
    finally:
        await close_context(ctx)
