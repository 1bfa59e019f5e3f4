"""FakeDiscord: a local Discord (REST + gateway) that an unmodified discord.py client talks to.

    async with FakeDiscord() as fake, fake.running(make_bot()) as bot:
        ix = await fake.slash_command("ping", user="alice")
        reply = await ix.wait_reply()
        assert reply.content == "pong"

Tests script users (commands, clicks, modals, reactions) and assert on what the fake recorded:
messages with their file bytes, edits with history, callbacks, reactions, command syncs.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import discord
import yarl
from aiohttp import web

from tests.fakediscord.gateway import PRIVILEGED, Gateway, Session
from tests.fakediscord.ratelimits import Hit, Limiter, RateLimits
from tests.fakediscord.records import (
    Callback,
    Event,
    Message,
    Recorder,
)
from tests.fakediscord.rest import Failure, RequestRecord, Rest
from tests.fakediscord.state import State
from tests.fakediscord.users import UserActions
from tests.fakediscord.webhooks import Webhooks
from tests.fakediscord.world import Channel, User, World

MiB = 1024 * 1024
ClientT = Any  # a discord.Client; Any so tests can pass their own subclasses without casts


class FakeDiscord(UserActions):
    """Start with `async with FakeDiscord() as fake:`; by default it points discord.py at itself."""

    def __init__(
        self,
        world: World | None = None,
        *,
        token: str = "fake-bot-token",
        attachment_size_limit: int = 10 * MiB,
        ack_deadline: float | None = 3.0,
        heartbeat_interval_ms: int = 41250,
        compress: bool = True,
        strict_commands: bool = True,
        allowed_intents: int = PRIVILEGED,
        nonce_window: float = 300.0,
        rate_limits: RateLimits | None = None,
        patch: bool = True,
    ) -> None:
        self.world = world or World.default()
        self.token = token
        self.attachment_size_limit = attachment_size_limit
        self.ack_deadline = ack_deadline
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.compress = compress
        self.strict_commands = strict_commands
        self.allowed_intents = allowed_intents
        self.nonce_window = nonce_window
        self.patch = patch
        self.clock: Callable[[], float] = time.monotonic
        self.attachment_delay_s = 0.0  # how long the CDN takes to start serving a file
        # None: no limits and no rate-limit headers (see tests.fakediscord.ratelimits)
        self.limiter = None if rate_limits is None else Limiter(rate_limits, lambda: self.clock())

        self.recorder = Recorder()
        self.state = State(self)
        self.requests: list[RequestRecord] = []
        self.unknown_routes: list[tuple[str, str]] = []
        self._failures: list[Failure] = []

        self.gateway = Gateway(self)
        self.webhooks = Webhooks(self)
        self.rest = Rest(self)
        self.port = 0
        self._runner: web.AppRunner | None = None
        self._patcher: contextlib.ExitStack | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        app = web.Application(middlewares=[self.rest.middleware], client_max_size=1 << 30)
        app.add_routes(self.rest.routes())
        self._runner = web.AppRunner(app, shutdown_timeout=1.0, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]
        if self.patch:
            self._patcher = contextlib.ExitStack()
            self._patcher.enter_context(self.patch_discord())

    async def stop(self) -> None:
        await self.gateway.close(1001, end_sessions=True)
        if self._runner is not None:
            await self._runner.cleanup()
        if self._patcher is not None:
            self._patcher.close()

    async def __aenter__(self) -> FakeDiscord:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/gateway"

    @contextlib.contextmanager
    def patch_discord(self) -> Iterator[None]:
        """Point discord.py's REST base and default gateway at this fake; restore them after."""
        route, ws = discord.http.Route, discord.gateway.DiscordWebSocket
        old = route.BASE, ws.DEFAULT_GATEWAY
        route.BASE = f"{self.base_url}/api/v10"
        ws.DEFAULT_GATEWAY = yarl.URL(self.gateway_url)
        try:
            yield
        finally:
            route.BASE, ws.DEFAULT_GATEWAY = old

    @contextlib.asynccontextmanager
    async def running(
        self, client: ClientT, *, wait_ready: bool = False, timeout: float = 10.0
    ) -> AsyncIterator[ClientT]:
        """Log `client` in, connect it, and wait until the fake sent READY and GUILD_CREATE (the
        client can take interactions from then on); `wait_ready` also waits for `on_ready`, which
        discord.py delays by `guild_ready_timeout` (2 s unless the client passes a smaller one).
        Closes the client on exit."""
        since = self.cursor()
        try:
            await client.login(self.token)
        except BaseException:
            await client.close()
            raise
        task = asyncio.create_task(client.connect(reconnect=True), name="fakediscord-client")
        ready = asyncio.ensure_future(self.wait_for_ready(timeout=timeout, since=since))
        try:
            await asyncio.wait({task, ready}, return_when=asyncio.FIRST_COMPLETED)
            if task.done():
                task.result()  # raises what stopped the client (bad token, disallowed intents)
                raise RuntimeError("the client stopped before it was ready")
            ready.result()
            if wait_ready:
                await asyncio.wait_for(client.wait_until_ready(), timeout)
            yield client
        finally:
            ready.cancel()
            await client.close()
            try:
                await asyncio.wait_for(task, timeout)
            except (TimeoutError, discord.DiscordException):
                task.cancel()

    # -- the world ---------------------------------------------------------------------------

    @property
    def bot_user(self) -> User:
        return self.world.bot

    @property
    def application_id(self) -> int:
        return self.world.application_id

    @property
    def users(self) -> dict[str, User]:
        return self.world.users

    @property
    def commands(self) -> dict[int | None, list[dict[str, Any]]]:
        """Synced application commands by guild id (None: global), as Discord stores them."""
        return self.state.commands

    # -- the gateway -------------------------------------------------------------------------

    @property
    def sessions(self) -> list[Session]:
        return self.gateway.live

    async def wait_for_ready(self, *, timeout: float = 10.0, since: int = 0) -> str:
        """The session id of a live gateway session that got READY and its GUILD_CREATEs."""
        event = await self.wait_for(
            lambda e: (
                e.kind == "ready" and any(s.id == e.data["session_id"] for s in self.gateway.live)
            ),
            timeout=timeout,
            since=since,
        )
        return str(event.data["session_id"])

    async def request_reconnect(self) -> None:
        """Send op 7 RECONNECT: discord.py reconnects and RESUMEs; missed events are replayed."""
        await self.gateway.send_op(7, None)

    async def close_gateway(self, code: int = 4000, *, end_sessions: bool = False) -> None:
        """Drop every gateway connection with `code` (ending the sessions forces a re-IDENTIFY)."""
        await self.gateway.close(code, end_sessions=end_sessions)

    # -- what was recorded -------------------------------------------------------------------

    @property
    def log(self) -> list[Event]:
        return self.recorder.log

    @property
    def messages(self) -> list[Message]:
        """Every message the bot made, in order: channel posts, replies, followups, ephemerals."""
        return [m for m in self.state.store.values() if m.author is self.world.bot]

    def visible_messages(self, channel: Channel | int | str | None = None) -> list[Message]:
        """What a member reading the channel sees now: no ephemerals, no deleted messages."""
        where = self._channel(channel)
        return [
            m
            for m in self.state.store.values()
            if m.channel_id == where.id and not m.ephemeral and not m.deleted
        ]

    @property
    def interaction_responses(self) -> list[Callback]:
        return [e.callback for e in self.log if e.callback is not None]

    @property
    def edits(self) -> list[Event]:
        return [e for e in self.log if e.kind == "edit"]

    @property
    def deletions(self) -> list[Message]:
        return [e.message for e in self.log if e.kind == "delete" and e.message is not None]

    @property
    def reactions(self) -> list[Event]:
        """reaction_add / reaction_remove events done by the bot."""
        bot = self.world.bot.name
        return [e for e in self.log if e.kind.startswith("reaction_") and e.data["user"] == bot]

    @property
    def rate_limited(self) -> list[Hit]:
        """Every request answered 429, in order (none while rate limits are off)."""
        return [] if self.limiter is None else list(self.limiter.hits)

    @property
    def command_syncs(self) -> list[Event]:
        return [e for e in self.log if e.kind == "sync"]

    def cursor(self) -> int:
        """The log position now; pass it as `since=` to wait only for what happens next."""
        return len(self.log)

    async def wait_for(
        self, predicate: Callable[[Event], bool], *, timeout: float = 10.0, since: int = 0
    ) -> Event:
        return await self.recorder.wait_for(predicate, timeout=timeout, since=since)

    async def wait_for_message(
        self,
        predicate: Callable[[Message], bool] | None = None,
        *,
        channel: Channel | int | str | None = None,
        since: int = 0,
        timeout: float = 10.0,
    ) -> Message:
        """A message by the bot, created or edited into a state matching `predicate` (never a
        "thinking…" placeholder or a deleted message)."""
        where = None if channel is None else self._channel(channel)

        def match(e: Event) -> bool:
            m = e.message
            return (
                e.kind in ("message", "edit")
                and m is not None
                and m.author is self.world.bot
                and not m.loading
                and not m.deleted
                and (where is None or m.channel_id == where.id)
                and (predicate is None or predicate(m))
            )

        event = await self.wait_for(match, timeout=timeout, since=since)
        assert event.message is not None
        return event.message

    # -- failure injection -------------------------------------------------------------------

    def fail_next(
        self,
        method: str,
        path: str,
        *,
        status: int = 500,
        code: int = 0,
        message: str = "Internal Server Error",
        apply: bool = False,
        times: int = 1,
    ) -> None:
        """Make the next `times` requests to `path` (a template such as
        "/channels/{channel_id}/messages", or a concrete path; no /api/v10) fail with `status`
        (0: drop the connection). `apply=True` does the work first and then fails: a response
        lost on its way back."""
        self._failures.append(Failure(method.upper(), path, status, code, message, apply, times))

    def take_failure(self, method: str, route: str, path: str) -> Failure | None:
        for failure in self._failures:
            if failure.method == method and failure.path in (route, path):
                failure.times -= 1
                if failure.times <= 0:
                    self._failures.remove(failure)
                return failure
        return None
