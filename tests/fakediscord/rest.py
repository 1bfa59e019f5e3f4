"""The REST routes a bot uses, under /api/v10, answering like Discord does (codes included).

Bodies are `application/json` with no charset: discord.py 2.7 only parses a response as JSON when
the content-type is exactly that. Routes the fake does not know answer 404 and are recorded.
"""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import web

from tests.fakediscord.messages import ApiError, check_message, invalid, not_found, read_body
from tests.fakediscord.ratelimits import Hit, too_many
from tests.fakediscord.records import COMPONENTS_V2, Message
from tests.fakediscord.world import (
    ADD_REACTIONS,
    ATTACH_FILES,
    DM_CHANNEL,
    MANAGE_MESSAGES,
    READ_MESSAGE_HISTORY,
    SEND_MESSAGES,
    VIEW_CHANNEL,
    Channel,
    Guild,
)

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from tests.fakediscord.server import FakeDiscord

API = "/api/v10"
CHANNEL_FLAGS = 4 | 4096 | COMPONENTS_V2  # suppress embeds, silent, components v2
NAME_RE = re.compile(r"^[-_\w]{1,32}$")


def json_response(
    data: Any, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    return web.Response(
        body=json.dumps(data).encode(),
        status=status,
        content_type="application/json",
        headers=headers,
    )


def no_content() -> web.Response:
    return web.Response(status=204)


@dataclass
class RequestRecord:
    method: str
    path: str
    route: str  # the template, e.g. /channels/{channel_id}/messages
    query: dict[str, str] = field(default_factory=dict)


@dataclass
class Failure:
    """An injected failure for the next matching request(s); see FakeDiscord.fail_next."""

    method: str
    path: str
    status: int
    code: int
    message: str
    apply: bool
    times: int


class Rest:
    def __init__(self, fake: FakeDiscord) -> None:
        self.fake = fake

    def routes(self) -> list[web.RouteDef]:
        r = [
            ("GET", "/gateway", self.get_gateway),
            ("GET", "/gateway/bot", self.get_gateway),
            ("GET", "/users/@me", self.get_me),
            ("GET", "/users/{user_id}", self.get_user),
            ("POST", "/users/@me/channels", self.create_dm),
            ("GET", "/oauth2/applications/@me", self.get_application),
            ("GET", "/applications/@me", self.get_application),
            ("GET", "/channels/{channel_id}", self.get_channel),
            ("POST", "/channels/{channel_id}/typing", self.typing),
            ("GET", "/channels/{channel_id}/messages", self.list_messages),
            ("POST", "/channels/{channel_id}/messages", self.create_message),
            ("GET", "/channels/{channel_id}/messages/{message_id}", self.get_message),
            ("PATCH", "/channels/{channel_id}/messages/{message_id}", self.edit_message),
            ("DELETE", "/channels/{channel_id}/messages/{message_id}", self.delete_message),
            ("GET", "/guilds/{guild_id}", self.get_guild),
            ("GET", "/guilds/{guild_id}/channels", self.get_guild_channels),
            ("GET", "/guilds/{guild_id}/roles", self.get_roles),
            ("GET", "/guilds/{guild_id}/members/{user_id}", self.get_member),
        ]
        reactions = "/channels/{channel_id}/messages/{message_id}/reactions"
        r += [
            ("PUT", reactions + "/{emoji}/{user}", self.add_reaction),
            ("DELETE", reactions + "/{emoji}/{user}", self.remove_reaction),
            ("GET", reactions + "/{emoji}", self.get_reactions),
        ]
        for prefix in ("/applications/{app_id}", "/applications/{app_id}/guilds/{guild_id}"):
            r += [
                ("GET", prefix + "/commands", self.get_commands),
                ("PUT", prefix + "/commands", self.put_commands),
                ("POST", prefix + "/commands", self.post_command),
                ("DELETE", prefix + "/commands/{command_id}", self.delete_command),
            ]
        webhooks = self.fake.webhooks
        r += [
            ("POST", "/interactions/{interaction_id}/{token}/callback", webhooks.callback),
            ("POST", "/webhooks/{app_id}/{token}", webhooks.followup),
            ("GET", "/webhooks/{app_id}/{token}/messages/{message_id}", webhooks.get_message),
            ("PATCH", "/webhooks/{app_id}/{token}/messages/{message_id}", webhooks.edit_message),
            ("DELETE", "/webhooks/{app_id}/{token}/messages/{message_id}", webhooks.delete_message),
        ]
        defs = [web.route(method, API + path, handler) for method, path, handler in r]
        defs.append(web.get("/attachments/{attachment_id}/{filename}", self.get_attachment))
        defs.append(web.get("/gateway", self.fake.gateway.handle))
        return defs

    @web.middleware
    async def middleware(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        fake = self.fake
        info = request.match_info
        if info.http_exception is not None:
            fake.unknown_routes.append((request.method, request.path))
            fake.recorder.record(
                "unknown_route", data={"method": request.method, "path": request.path}
            )
            return json_response({"message": "Unknown route", "code": 0}, 404)
        resource = info.route.resource
        route = resource.canonical.removeprefix(API) if resource is not None else request.path
        fake.requests.append(
            RequestRecord(request.method, request.path, route, dict(request.query))
        )
        is_api = request.path.startswith(API)
        needs_auth = is_api and not route.startswith(("/webhooks/", "/interactions/"))
        if needs_auth and request.headers.get("Authorization") != f"Bot {fake.token}":
            return json_response({"message": "401: Unauthorized", "code": 0}, 401)
        allowed = None
        if fake.limiter is not None and is_api:
            checked = fake.limiter.check(
                request.method, route, request.path, info, app_id=fake.application_id
            )
            if isinstance(checked, Hit):
                body, headers = too_many(checked)
                fake.recorder.record("rate_limited", data={**body, "path": request.path})
                return json_response(body, 429, headers)
            allowed = checked
        failure = fake.take_failure(request.method, route, request.path.removeprefix(API))
        try:
            if failure is not None and not failure.apply:
                response: web.StreamResponse = self._fail(request, failure)
            else:
                response = await handler(request)
                response = response if failure is None else self._fail(request, failure)
        except ApiError as exc:
            response = json_response(exc.body(), exc.status)
        if allowed is not None and not response.prepared:
            response.headers.update(allowed.headers(fake.clock()))
        return response

    def _fail(self, request: web.Request, failure: Failure) -> web.Response:
        if failure.status == 0:  # the connection drops before any answer
            if request.transport is not None:
                request.transport.close()
            return web.Response(status=500)
        return json_response({"message": failure.message, "code": failure.code}, failure.status)

    # -- helpers -----------------------------------------------------------------------------

    def channel(self, request: web.Request, need: int = VIEW_CHANNEL) -> Channel:
        """The channel in the URL, if the bot may see it (403 50001) and do `need` (403 50013)."""
        channel = self.fake.world.find_channel(int(request.match_info["channel_id"]))
        if channel is None:
            raise not_found("Channel", 10003)
        self.require(channel, need)
        return channel

    def require(self, channel: Channel, need: int) -> None:
        guild = self.fake.world.guild_of(channel)
        if guild is None:
            return
        perms = guild.permissions(self.fake.world.bot, channel)
        if not perms & VIEW_CHANNEL:
            raise ApiError(403, 50001, "Missing Access")
        if perms & need != need:
            raise ApiError(403, 50013, "Missing Permissions")

    def message(self, request: web.Request, channel: Channel) -> Message:
        msg = self.fake.state.store.get(int(request.match_info["message_id"]))
        if msg is None or msg.deleted or msg.ephemeral or msg.channel_id != channel.id:
            raise not_found("Message", 10008)
        return msg

    def guild(self, request: web.Request) -> Guild:
        gid = int(request.match_info["guild_id"])
        guild = next((g for g in self.fake.world.guilds if g.id == gid), None)
        if guild is None:
            raise not_found("Guild", 10004)
        return guild

    # -- gateway, users, application --------------------------------------------------------

    async def get_gateway(self, request: web.Request) -> web.Response:
        limit = {"total": 1000, "remaining": 999, "reset_after": 0, "max_concurrency": 1}
        return json_response(
            {"url": self.fake.gateway_url, "shards": 1, "session_start_limit": limit}
        )

    async def get_me(self, request: web.Request) -> web.Response:
        me = self.fake.world.bot.payload() | {"verified": True, "mfa_enabled": False, "email": None}
        return json_response(me)

    async def get_user(self, request: web.Request) -> web.Response:
        try:
            user = self.fake.world.user(int(request.match_info["user_id"]))
        except (KeyError, ValueError):
            raise not_found("User", 10013) from None
        return json_response(user.payload())

    async def create_dm(self, request: web.Request) -> web.Response:
        body, _ = await read_body(request)
        try:
            user = self.fake.world.user(int(body["recipient_id"]))
        except (KeyError, ValueError):
            raise invalid("recipient_id", "Unknown user") from None
        channel = self.fake.world.dm_channel(user)
        self.fake.recorder.record("dm_channel", data={"user": user.name, "channel_id": channel.id})
        return json_response(channel.payload() | {"last_message_id": None})

    async def get_application(self, request: web.Request) -> web.Response:
        return json_response(self.fake.world.application_payload())

    # -- channels and messages ---------------------------------------------------------------

    async def get_channel(self, request: web.Request) -> web.Response:
        return json_response(self.channel(request).payload())

    async def typing(self, request: web.Request) -> web.Response:
        channel = self.channel(request, SEND_MESSAGES)
        self.fake.recorder.record("typing", data={"channel_id": channel.id})
        return no_content()

    async def list_messages(self, request: web.Request) -> web.Response:
        channel = self.channel(request, READ_MESSAGE_HISTORY)
        q = request.query
        msgs = self.fake.visible_messages(channel)
        if "before" in q:
            msgs = [m for m in msgs if m.id < int(q["before"])]
        limit = int(q.get("limit", 50))
        if "after" in q:  # the `limit` messages right after it, still newest first
            msgs = sorted((m for m in msgs if m.id > int(q["after"])), key=lambda m: m.id)[:limit]
        msgs = sorted(msgs, key=lambda m: m.id, reverse=True)[:limit]
        return json_response([self.fake.state.payload(m) for m in msgs])

    async def create_message(self, request: web.Request) -> web.Response:
        fake = self.fake
        channel = self.channel(request, SEND_MESSAGES)
        if channel.type == DM_CHANNEL and channel.recipient and not channel.recipient.accepts_dms:
            raise ApiError(403, 50007, "Cannot send messages to this user")
        body, files = await read_body(request)
        if files:
            self.require(channel, SEND_MESSAGES | ATTACH_FILES)
        nonce = body.get("nonce")
        if nonce is not None and body.get("enforce_nonce"):
            existing = fake.state.nonce_hit(channel.id, str(nonce))
            if existing is not None:
                fake.recorder.record("dedup", message=existing, data={"nonce": str(nonce)})
                return json_response(fake.state.payload(existing))
        check_message(body, files, size_limit=fake.attachment_size_limit, creating=True)
        kind = 0
        ref = body.get("message_reference")
        if ref and ref.get("type", 0) == 0:
            target = fake.state.store.get(int(ref["message_id"]))
            if target is None or target.deleted or target.channel_id != channel.id:
                if ref.get("fail_if_not_exists", True):
                    raise invalid("message_reference", "Unknown message")
                ref = None
            else:
                kind = 19
        body = {**body, "message_reference": ref, "flags": (body.get("flags") or 0) & CHANNEL_FLAGS}
        msg = fake.state.add_message(channel, fake.world.bot, body, files, type=kind)
        if nonce is not None and body.get("enforce_nonce"):
            fake.state.remember_nonce(channel.id, str(nonce), msg)
        await fake.state.echo("MESSAGE_CREATE", msg)
        return json_response(fake.state.payload(msg))

    async def get_message(self, request: web.Request) -> web.Response:
        channel = self.channel(request, READ_MESSAGE_HISTORY)
        return json_response(self.fake.state.payload(self.message(request, channel)))

    async def edit_message(self, request: web.Request) -> web.Response:
        channel = self.channel(request)
        msg = self.message(request, channel)
        body, files = await read_body(request)
        if msg.author is not self.fake.world.bot:
            if set(body) - {"flags"}:
                raise ApiError(403, 50005, "Cannot edit a message authored by another user")
            self.require(channel, MANAGE_MESSAGES)
        check_message(body, files, size_limit=self.fake.attachment_size_limit, creating=False)
        if "flags" in body:
            body["flags"] = (body["flags"] or 0) & CHANNEL_FLAGS
        self.fake.state.edit(msg, body, files)
        await self.fake.state.echo("MESSAGE_UPDATE", msg)
        return json_response(self.fake.state.payload(msg))

    async def delete_message(self, request: web.Request) -> web.Response:
        channel = self.channel(request)
        msg = self.message(request, channel)
        if msg.author is not self.fake.world.bot:
            self.require(channel, MANAGE_MESSAGES)
        await self.fake.state.delete(msg)
        return no_content()

    # -- reactions ---------------------------------------------------------------------------

    def _reaction_target(self, request: web.Request, need: int) -> tuple[Channel, Message, str]:
        channel = self.channel(request, need)
        msg = self.message(request, channel)
        emoji = request.match_info["emoji"]
        if ":" in emoji:  # custom emoji: the fake has none
            raise ApiError(400, 10014, "Unknown Emoji")
        return channel, msg, emoji

    async def add_reaction(self, request: web.Request) -> web.Response:
        if request.match_info["user"] != "@me":
            raise ApiError(405, 0, "405: Method Not Allowed")
        _, msg, emoji = self._reaction_target(request, ADD_REACTIONS | READ_MESSAGE_HISTORY)
        await self.fake.state.react(msg, emoji, self.fake.world.bot, add=True)
        return no_content()

    async def remove_reaction(self, request: web.Request) -> web.Response:
        who = request.match_info["user"]
        need = READ_MESSAGE_HISTORY if who == "@me" else READ_MESSAGE_HISTORY | MANAGE_MESSAGES
        _, msg, emoji = self._reaction_target(request, need)
        user = self.fake.world.bot if who == "@me" else self.fake.world.user(int(who))
        await self.fake.state.react(msg, emoji, user, add=False)
        return no_content()

    async def get_reactions(self, request: web.Request) -> web.Response:
        _, msg, emoji = self._reaction_target(request, READ_MESSAGE_HISTORY)
        users = [self.fake.world.user(uid).payload() for uid in msg.reactions.get(emoji, [])]
        return json_response(users)

    # -- guilds ------------------------------------------------------------------------------

    async def get_guild(self, request: web.Request) -> web.Response:
        guild = self.guild(request)
        data = self.fake.world.guild_payload(guild, all_members=False)
        for key in ("channels", "members", "threads", "presences", "voice_states", "joined_at"):
            data.pop(key, None)
        data["approximate_member_count"] = len(guild.members)
        return json_response(data)

    async def get_guild_channels(self, request: web.Request) -> web.Response:
        return json_response([c.payload() for c in self.guild(request).channels])

    async def get_roles(self, request: web.Request) -> web.Response:
        return json_response([r.payload() for r in self.guild(request).roles])

    async def get_member(self, request: web.Request) -> web.Response:
        guild = self.guild(request)
        uid = int(request.match_info["user_id"])
        if uid not in guild.members:
            raise not_found("Member", 10007)
        return json_response(guild.member_payload(self.fake.world.user(uid)))

    async def get_attachment(self, request: web.Request) -> web.Response:
        attachment = self.fake.state.attachments.get(int(request.match_info["attachment_id"]))
        if attachment is None:
            raise web.HTTPNotFound()
        if self.fake.attachment_delay_s:  # a slow CDN: the bot must answer Discord meanwhile
            await asyncio.sleep(self.fake.attachment_delay_s)
        return web.Response(
            body=attachment.data, content_type=attachment.content_type or "application/octet-stream"
        )

    # -- application commands ---------------------------------------------------------------

    def _scope(self, request: web.Request) -> int | None:
        if int(request.match_info["app_id"]) != self.fake.world.application_id:
            raise ApiError(403, 50001, "Missing Access")
        gid = request.match_info.get("guild_id")
        if gid is not None:
            self.guild(request)
        return None if gid is None else int(gid)

    async def get_commands(self, request: web.Request) -> web.Response:
        return json_response(self.fake.commands.get(self._scope(request), []))

    async def put_commands(self, request: web.Request) -> web.Response:
        scope = self._scope(request)
        body, _ = await read_body(request)
        if not isinstance(body, list):
            raise invalid("body", "Must be an array of commands.")
        return json_response(self.fake.state.sync_commands(scope, body))

    async def post_command(self, request: web.Request) -> web.Response:
        scope = self._scope(request)
        body, _ = await read_body(request)
        others = [c for c in self.fake.commands.get(scope, []) if c["name"] != body.get("name")]
        stored = self.fake.state.sync_commands(scope, [*others, body])
        return json_response(next(c for c in stored if c["name"] == body["name"]), 201)

    async def delete_command(self, request: web.Request) -> web.Response:
        scope = self._scope(request)
        cid = request.match_info["command_id"]
        before = self.fake.commands.get(scope, [])
        if not any(c["id"] == cid for c in before):
            raise not_found("application command", 10063)
        self.fake.state.sync_commands(scope, [c for c in before if c["id"] != cid])
        return no_content()


def check_command(cmd: dict[str, Any]) -> None:
    """Discord's rules for a command body that discord.py can still get wrong (or a test can)."""
    name = cmd.get("name", "")
    if not NAME_RE.match(name) or (cmd.get("type", 1) == 1 and name != name.lower()):
        raise invalid("name", f"Command name is invalid: {name!r}")
    if cmd.get("type", 1) == 1 and not 1 <= len(cmd.get("description") or "") <= 100:
        raise invalid("description", f"/{name}: must be between 1 and 100 in length.")
    check_options(name, cmd.get("options") or [])


def check_options(where: str, options: list[dict[str, Any]]) -> None:
    if len(options) > 25:
        raise invalid("options", f"/{where}: must be 25 or fewer in length.")
    seen_optional = False
    for opt in options:
        if (
            not NAME_RE.match(opt.get("name", ""))
            or not 1 <= len(opt.get("description") or "") <= 100
        ):
            raise invalid(
                "options", f"/{where}: option {opt.get('name')!r} has a bad name or description"
            )
        if len(opt.get("choices") or []) > 25:
            raise invalid(
                "options.choices", f"/{where} {opt['name']}: must be 25 or fewer in length."
            )
        if opt["type"] in (1, 2):
            check_options(f"{where} {opt['name']}", opt.get("options") or [])
        elif opt.get("required"):
            if seen_optional:
                raise invalid(
                    "options", f"/{where}: required options must be placed before optional ones"
                )
        else:
            seen_optional = True
