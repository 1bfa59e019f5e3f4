"""What exists on the fake server besides the world: messages, interactions, commands, files.

One place changes them (REST handlers and scripted users both come through here), records each
change in the log, and sends the gateway event Discord would send for it.
"""

from __future__ import annotations

import mimetypes
import re
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from tests.fakediscord.gateway import (
    DIRECT_MESSAGE_REACTIONS,
    DIRECT_MESSAGES,
    GUILD_MESSAGE_REACTIONS,
    GUILD_MESSAGES,
    MESSAGE_CONTENT,
    Session,
)
from tests.fakediscord.messages import UploadedFile, invalid
from tests.fakediscord.records import EPHEMERAL, LOADING, Attachment, Interaction, Message
from tests.fakediscord.rest import check_command
from tests.fakediscord.world import Channel, User, iso_now, snowflake

if TYPE_CHECKING:
    from tests.fakediscord.server import FakeDiscord

MENTION_RE = re.compile(r"<@!?(\d+)>")


class State:
    def __init__(self, fake: FakeDiscord) -> None:
        self.fake = fake
        self.world = fake.world
        self.recorder = fake.recorder
        self.store: dict[int, Message] = {}
        self.interactions: dict[int, Interaction] = {}
        self.by_token: dict[str, Interaction] = {}
        self.commands: dict[int | None, list[dict[str, Any]]] = {}
        self.attachments: dict[int, Attachment] = {}
        self._nonces: dict[tuple[int, str], tuple[Message, float]] = {}
        self.pinged: dict[int, list[User]] = {}  # message id -> whom its creation notified

    def new_id(self) -> int:
        return snowflake()

    def upload(
        self,
        filename: str,
        data: bytes,
        *,
        content_type: str | None = None,
        width: int | None = None,
        height: int | None = None,
        ephemeral: bool = True,
    ) -> Attachment:
        aid = self.new_id()
        attachment = Attachment(
            aid,
            filename,
            data,
            f"{self.fake.base_url}/attachments/{aid}/{quote(filename)}",
            content_type=content_type or mimetypes.guess_type(filename)[0],
            ephemeral=ephemeral,
            width=width,
            height=height,
        )
        self.attachments[aid] = attachment
        return attachment

    def payload(self, msg: Message) -> dict[str, Any]:
        data = msg.payload(self.world.bot.id)
        ref = msg.message_reference
        if ref is not None and (target := self.store.get(int(ref["message_id"]))) is not None:
            data["referenced_message"] = (
                None if target.deleted else target.payload(self.world.bot.id)
            )
        return data

    def add_message(
        self,
        channel: Channel,
        author: User,
        body: dict[str, Any],
        files: dict[int, UploadedFile],
        *,
        interaction: Interaction | None = None,
        type: int = 0,
        webhook_id: int | None = None,
    ) -> Message:
        ref = body.get("message_reference")
        if ref is not None:
            ref = {**ref, "channel_id": str(channel.id), "type": ref.get("type", 0)}
            if channel.guild_id is not None:
                ref["guild_id"] = str(channel.guild_id)
        msg = Message(
            self.new_id(),
            channel.id,
            channel.guild_id,
            author,
            type=type,
            interaction=interaction,
            webhook_id=webhook_id,
            message_reference=ref,
            nonce=None if body.get("nonce") is None else str(body["nonce"]),
        )
        msg.flags = body.get("flags") or 0
        self._apply(msg, body, files)
        self.pinged[msg.id] = self._pings(msg, body.get("allowed_mentions"))
        self.store[msg.id] = msg
        self.recorder.record("message", message=msg)
        return msg

    @staticmethod
    def _pings(msg: Message, allowed: dict[str, Any] | None) -> list[User]:
        """Whom Discord notifies for a new message (edits notify nobody): every user mentioned
        in it without `allowed_mentions`, else those it lets through ("users" in `parse`, or
        listed in `users`). Role and @everyone mentions are not modelled."""
        if allowed is None or "users" in (allowed.get("parse") or []):
            return list(msg.mentions)
        listed = {int(uid) for uid in allowed.get("users") or []}
        return [u for u in msg.mentions if u.id in listed]

    def edit(self, msg: Message, body: dict[str, Any], files: dict[int, UploadedFile]) -> None:
        before = self.payload(msg)
        msg.history.append(before)
        if "flags" in body:
            msg.flags = (body["flags"] or 0) | (msg.flags & EPHEMERAL)
        msg.flags &= ~LOADING
        self._apply(msg, body, files)
        msg.edited_timestamp = iso_now()
        self.recorder.record("edit", message=msg, before=before)

    async def delete(self, msg: Message) -> None:
        msg.deleted = True
        self.recorder.record("delete", message=msg)
        await self.echo("MESSAGE_DELETE", msg)

    def _apply(self, msg: Message, body: dict[str, Any], files: dict[int, UploadedFile]) -> None:
        if "content" in body:
            msg.content = "" if body["content"] is None else str(body["content"])
            mentioned = {int(uid) for uid in MENTION_RE.findall(msg.content)}
            msg.mentions = [
                u for u in [self.world.bot, *self.world.users.values()] if u.id in mentioned
            ]
        if "components" in body:
            msg.components = list(body["components"] or [])
        msg.attachments = self._attachments(body, files, msg)
        if "embeds" in body:
            urls = {f"attachment://{a.filename}": a.url for a in msg.attachments}
            msg.embeds = []
            for embed in body["embeds"] or []:
                embed = {"type": "rich", **embed}
                for key in ("image", "thumbnail"):
                    if isinstance(embed.get(key), dict) and embed[key].get("url") in urls:
                        embed[key] = {**embed[key], "url": urls[embed[key]["url"]]}
                msg.embeds.append(embed)

    def _attachments(
        self, body: dict[str, Any], files: dict[int, UploadedFile], msg: Message
    ) -> list[Attachment]:
        """`attachments` in the body keeps existing ones by id and names new `files[n]` by index;
        without it, an edit keeps what was there and adds the new files."""

        def stored(
            f: UploadedFile, description: str | None = None, filename: str | None = None
        ) -> Attachment:
            a = self.upload(
                filename or f.filename, f.data, content_type=f.content_type, ephemeral=msg.ephemeral
            )
            a.description = description
            return a

        spec = body.get("attachments")
        if spec is None:
            return msg.attachments + [stored(f) for _, f in sorted(files.items())]
        existing = {a.id: a for a in msg.attachments}
        result, used = [], set()
        for item in spec:
            aid = int(item["id"])
            if aid in files:
                result.append(stored(files[aid], item.get("description"), item.get("filename")))
                used.add(aid)
            elif aid in existing:
                result.append(existing[aid])
            else:
                raise invalid("attachments", f"Unknown attachment id {aid}")
        return result + [stored(f) for i, f in sorted(files.items()) if i not in used]

    async def react(self, msg: Message, emoji: str, user: User, *, add: bool) -> None:
        users = msg.reactions.setdefault(emoji, [])
        if add == (user.id in users):
            return
        users.append(user.id) if add else users.remove(user.id)
        kind = "reaction_add" if add else "reaction_remove"
        self.recorder.record(kind, message=msg, data={"emoji": emoji, "user": user.name})
        guild = next((g for g in self.world.guilds if g.id == msg.guild_id), None)
        data: dict[str, Any] = {
            "user_id": str(user.id),
            "channel_id": str(msg.channel_id),
            "message_id": str(msg.id),
            "emoji": {"id": None, "name": emoji},
            "burst": False,
            "type": 0,
        }
        if add:
            data |= {"message_author_id": str(msg.author.id), "burst_colors": []}
        if guild is not None:
            data["guild_id"] = str(guild.id)
            if add and user.id in guild.members:
                data["member"] = guild.member_payload(user)
        intent = GUILD_MESSAGE_REACTIONS if guild is not None else DIRECT_MESSAGE_REACTIONS
        await self.fake.gateway.dispatch(
            "MESSAGE_REACTION_ADD" if add else "MESSAGE_REACTION_REMOVE", data, intent=intent
        )

    async def echo(self, event: str, msg: Message) -> None:
        """The gateway event Discord sends for a message change (never for ephemerals)."""
        if msg.ephemeral:
            return
        guild = next((g for g in self.world.guilds if g.id == msg.guild_id), None)
        intent = GUILD_MESSAGES if guild is not None else DIRECT_MESSAGES
        if event == "MESSAGE_DELETE":
            data: dict[str, Any] = {"id": str(msg.id), "channel_id": str(msg.channel_id)}
            if guild is not None:
                data["guild_id"] = str(guild.id)
            await self.fake.gateway.dispatch(event, data, intent=intent)
            return

        def for_session(session: Session) -> dict[str, Any]:
            d = self.payload(msg)
            if guild is not None and msg.author.id in guild.members:
                d["member"] = guild.member_payload(msg.author, with_user=False)
            gated = guild is not None and msg.author is not self.world.bot
            if (
                gated
                and not session.intents & MESSAGE_CONTENT
                and self.world.bot not in msg.mentions
            ):
                d |= {"content": "", "embeds": [], "attachments": [], "components": []}
            return d

        await self.fake.gateway.dispatch(event, for_session, intent=intent)

    def nonce_hit(self, channel_id: int, nonce: str) -> Message | None:
        hit = self._nonces.get((channel_id, nonce))
        if hit is None or hit[0].deleted or self.fake.clock() - hit[1] > self.fake.nonce_window:
            return None
        return hit[0]

    def remember_nonce(self, channel_id: int, nonce: str, msg: Message) -> None:
        self._nonces[(channel_id, nonce)] = (msg, self.fake.clock())

    def sync_commands(self, scope: int | None, body: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Replace the commands of a scope (None: global), keeping ids of same-named commands."""
        keys = [(c.get("name"), c.get("type", 1)) for c in body]
        if len(set(keys)) != len(keys):
            raise invalid("body", "Application command names must be unique")
        old = {(c["name"], c["type"]): c for c in self.commands.get(scope, [])}
        stored = []
        for cmd in body:
            check_command(cmd)
            key = (cmd["name"], cmd.get("type", 1))
            cid = old[key]["id"] if key in old else str(self.new_id())
            entry = {
                "description": "",
                "options": [],
                "default_member_permissions": None,
                "nsfw": False,
                "contexts": None,
                "integration_types": [0],
                **cmd,
                "id": cid,
                "application_id": str(self.world.application_id),
                "type": key[1],
                "version": str(self.new_id()),
            }
            if scope is not None:
                entry["guild_id"] = str(scope)
            stored.append(entry)
        self.commands[scope] = stored
        names = [c["name"] for c in stored]
        self.recorder.record("sync", data={"guild_id": scope, "names": names})
        return stored
