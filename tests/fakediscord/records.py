"""What the fake saw: messages (with file bytes and edit history), interactions and their responses,
and one ordered event log that tests wait on.

Waiting is future-based: `Recorder.record` resolves every pending waiter whose predicate matches, so
tests never sleep in a loop, and an event recorded before the wait started is found too.
"""

from __future__ import annotations

import asyncio
import copy
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from tests.fakediscord.world import Channel, Guild, User, iso_now

EPHEMERAL = 1 << 6
LOADING = 1 << 7
COMPONENTS_V2 = 1 << 15

CALLBACK_NAMES = {
    1: "pong",
    4: "message",
    5: "deferred_message",
    6: "deferred_update",
    7: "update_message",
    8: "autocomplete",
    9: "modal",
}


@dataclass(eq=False)
class Attachment:
    """A file a scripted user uploaded, or one the bot sent (`data` holds the exact bytes)."""

    id: int
    filename: str
    data: bytes
    url: str
    content_type: str | None = None
    description: str | None = None
    ephemeral: bool = False
    width: int | None = None
    height: int | None = None

    @property
    def size(self) -> int:
        return len(self.data)

    def payload(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": str(self.id),
            "filename": self.filename,
            "size": self.size,
            "url": self.url,
            "proxy_url": self.url,
            "content_type": self.content_type,
            "ephemeral": self.ephemeral,
            "flags": 0,
        }
        if self.description is not None:
            data["description"] = self.description
        if self.width is not None:
            data["width"], data["height"] = self.width, self.height
        return data


def walk_components(components: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Every component in a tree of rows, sections, containers and labels, depth first."""
    for comp in components:
        yield comp
        yield from walk_components(comp.get("components", []))
        for key in ("accessory", "component"):
            if isinstance(comp.get(key), dict):
                yield from walk_components([comp[key]])


@dataclass(eq=False)
class Message:
    """A message as Discord stores it; mutable, so a reference always shows the latest state."""

    id: int
    channel_id: int
    guild_id: int | None
    author: User
    content: str = ""
    embeds: list[dict[str, Any]] = field(default_factory=list)
    components: list[dict[str, Any]] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    flags: int = 0
    type: int = 0
    nonce: str | None = None
    message_reference: dict[str, Any] | None = None
    interaction: Interaction | None = None
    webhook_id: int | None = None
    mentions: list[User] = field(default_factory=list)
    timestamp: str = field(default_factory=iso_now)
    edited_timestamp: str | None = None
    history: list[dict[str, Any]] = field(default_factory=list)  # snapshots before each edit
    reactions: dict[str, list[int]] = field(default_factory=dict)  # emoji -> user ids
    deleted: bool = False

    @property
    def ephemeral(self) -> bool:
        return bool(self.flags & EPHEMERAL)

    @property
    def loading(self) -> bool:
        """A deferred response's "is thinking…" placeholder that was not filled yet."""
        return bool(self.flags & LOADING)

    @property
    def files(self) -> dict[str, bytes]:
        return {a.filename: a.data for a in self.attachments}

    @property
    def custom_ids(self) -> list[str]:
        return [c["custom_id"] for c in walk_components(self.components) if "custom_id" in c]

    @property
    def text(self) -> str:
        """Everything a reader sees as text: content, embeds, and v2 text displays."""
        parts = [self.content]
        for embed in self.embeds:
            parts += [embed.get("title", ""), embed.get("description", "")]
            for f in embed.get("fields", []):
                parts += [f.get("name", ""), f.get("value", "")]
            parts.append(embed.get("footer", {}).get("text", ""))
        parts += [c.get("content", "") for c in walk_components(self.components) if c["type"] == 10]
        return "\n".join(p for p in parts if p)

    def component(
        self, custom_id: str | None = None, *, label: str | None = None
    ) -> dict[str, Any]:
        """The component with this custom_id (or button label); KeyError lists what is there."""
        for comp in walk_components(self.components):
            if custom_id is not None and comp.get("custom_id") == custom_id:
                return comp
            if label is not None and comp.get("label") == label:
                return comp
        labels = [c.get("label") for c in walk_components(self.components) if "label" in c]
        raise KeyError(
            f"message {self.id} has no component {custom_id or label!r}; "
            f"custom_ids={self.custom_ids} labels={labels}"
        )

    def payload(self, bot_id: int) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": str(self.id),
            "channel_id": str(self.channel_id),
            "author": self.author.payload(),
            "content": self.content,
            "timestamp": self.timestamp,
            "edited_timestamp": self.edited_timestamp,
            "tts": False,
            "mention_everyone": False,
            "mentions": [u.payload() for u in self.mentions],
            "mention_roles": [],
            "attachments": [a.payload() for a in self.attachments],
            "embeds": copy.deepcopy(self.embeds),
            "components": copy.deepcopy(self.components),
            "pinned": False,
            "type": self.type,
            "flags": self.flags,
        }
        if self.guild_id is not None:
            data["guild_id"] = str(self.guild_id)
        if self.nonce is not None:
            data["nonce"] = self.nonce
        if self.webhook_id is not None:
            data["webhook_id"] = str(self.webhook_id)
            data["application_id"] = str(self.webhook_id)
        if self.message_reference is not None:
            data["message_reference"] = self.message_reference
        if self.reactions:
            data["reactions"] = [
                {
                    "emoji": emoji_payload(emoji),
                    "count": len(users),
                    "count_details": {"burst": 0, "normal": len(users)},
                    "me": bot_id in users,
                    "me_burst": False,
                    "burst_colors": [],
                }
                for emoji, users in self.reactions.items()
                if users
            ]
        if (ix := self.interaction) is not None:
            data["interaction_metadata"] = {
                "id": str(ix.id),
                "type": ix.type,
                "user": ix.user.payload(),
                "authorizing_integration_owners": ix.payload["authorizing_integration_owners"],
            }
            if ix.original is not None and ix.original is not self:
                data["interaction_metadata"]["original_response_message_id"] = str(ix.original.id)
        return data

    def __repr__(self) -> str:
        flags = "".join(
            f" {n}" for n, on in (("ephemeral", self.ephemeral), ("loading", self.loading)) if on
        )
        return (
            f"<Message {self.id} by {self.author.name} in {self.channel_id}{flags}: "
            f"{self.text[:60]!r} files={list(self.files)} custom_ids={self.custom_ids}>"
        )


def emoji_payload(emoji: str) -> dict[str, Any]:
    """`👍` for unicode, `name:id` (as discord.py puts it in the URL) for custom emoji."""
    name, _, emoji_id = emoji.partition(":")
    return {"id": emoji_id or None, "name": name, "animated": False}


@dataclass(eq=False)
class Callback:
    """One POST to /interactions/{id}/{token}/callback: its type and the data the bot sent."""

    interaction: Interaction
    type: int
    data: dict[str, Any]
    files: list[Attachment] = field(default_factory=list)

    @property
    def name(self) -> str:
        return CALLBACK_NAMES.get(self.type, str(self.type))

    @property
    def ephemeral(self) -> bool:
        return bool(self.data.get("flags", 0) & EPHEMERAL)

    def __repr__(self) -> str:
        return (
            f"<Callback {self.name} for interaction {self.interaction.id} data={self.data!r:.120}>"
        )


@dataclass(eq=False)
class Interaction:
    """An interaction the fake dispatched, and everything the bot answered to it."""

    id: int
    token: str
    type: int
    user: User
    channel: Channel
    guild: Guild | None
    payload: dict[str, Any]
    created: float
    recorder: Recorder
    message: Message | None = None  # the message a component was on
    callbacks: list[Callback] = field(default_factory=list)
    original: Message | None = None
    followups: list[Message] = field(default_factory=list)

    @property
    def data(self) -> dict[str, Any]:
        return self.payload["data"]

    @property
    def response(self) -> Callback | None:
        return self.callbacks[0] if self.callbacks else None

    @property
    def messages(self) -> list[Message]:
        first = (
            [self.original]
            if self.original is not None and self.original.interaction is self
            else []
        )
        return first + [m for m in self.followups if m not in first]

    async def wait_response(self, *, timeout: float = 10.0) -> Callback:
        """The bot's first callback (reply, defer, modal, update, autocomplete)."""
        event = await self.recorder.wait_for(
            lambda e: e.kind == "callback" and e.interaction is self, timeout=timeout
        )
        assert event.callback is not None
        return event.callback

    async def wait_reply(
        self, predicate: Callable[[Message], bool] | None = None, *, timeout: float = 10.0
    ) -> Message:
        """The first message this interaction produced or updated, filled in (not "thinking…"),
        optionally matching `predicate`: a reply, a followup, or the message a clicked component
        is on once the bot edited it. What the user sees as the answer."""

        def match(e: Event) -> bool:
            m = e.message
            return (
                e.kind in ("message", "edit")
                and m is not None
                and (m.interaction is self or (m is self.original and e.kind == "edit"))
                and not m.loading
                and not m.deleted
                and (predicate is None or predicate(m))
            )

        event = await self.recorder.wait_for(match, timeout=timeout)
        assert event.message is not None
        return event.message

    async def wait_followup(self, index: int = 0, *, timeout: float = 10.0) -> Message:
        """The index-th followup (a first followup that filled a deferral is the original)."""
        await self.recorder.wait_for(lambda _: len(self.followups) > index, timeout=timeout)
        return self.followups[index]

    async def wait_modal(self, *, timeout: float = 10.0) -> dict[str, Any]:
        callback = await self.wait_response(timeout=timeout)
        if callback.type != 9:
            raise AssertionError(f"expected a modal, the bot answered {callback!r}")
        return callback.data

    async def wait_choices(self, *, timeout: float = 10.0) -> list[dict[str, Any]]:
        callback = await self.wait_response(timeout=timeout)
        if callback.type != 8:
            raise AssertionError(f"expected autocomplete choices, the bot answered {callback!r}")
        return list(callback.data.get("choices", []))

    def __repr__(self) -> str:
        what = self.data.get("name") or self.data.get("custom_id")
        return f"<Interaction {self.id} type={self.type} {what!r} by {self.user.name}>"


@dataclass(eq=False)
class Event:
    """One entry of the log. `kind` is one of:
    gateway: connect, identify, ready, resume, disconnect, dispatch (an event sent to the bot);
    users: interaction (a scripted interaction was created);
    the bot: message, edit, delete, dedup (a nonce matched; no new message), reaction_add,
    reaction_remove, callback, late_callback (refused: past the deadline), followup, sync,
    dm_channel, typing, unknown_route, rate_limited (answered 429; see `ratelimits`)."""

    index: int
    kind: str
    message: Message | None = None
    interaction: Interaction | None = None
    callback: Callback | None = None
    before: dict[str, Any] | None = None  # a message's snapshot before an edit
    data: dict[str, Any] = field(default_factory=dict)
    at: float = field(default_factory=time.monotonic)  # when it was recorded

    def __repr__(self) -> str:
        subject = self.callback or self.message or self.interaction or ""
        extra = f" {self.data}" if self.data else ""
        return f"#{self.index} {self.kind} {subject!r}{extra}"[:300]


Predicate = Callable[[Event], bool]


class Recorder:
    """The ordered log plus the futures of everyone waiting on it."""

    def __init__(self) -> None:
        self.log: list[Event] = []
        self._waiters: list[tuple[Predicate, asyncio.Future[Event]]] = []

    def record(self, kind: str, **fields: Any) -> Event:
        event = Event(len(self.log), kind, **fields)
        self.log.append(event)
        still: list[tuple[Predicate, asyncio.Future[Event]]] = []
        for predicate, future in self._waiters:
            if future.done():
                continue
            try:
                matched = predicate(event)
            except Exception as exc:
                future.set_exception(exc)
                continue
            if matched:
                future.set_result(event)
            else:
                still.append((predicate, future))
        self._waiters = still
        return event

    async def wait_for(
        self, predicate: Predicate, *, timeout: float = 10.0, since: int = 0
    ) -> Event:
        """The first event at index >= `since` (past or future) for which `predicate` is true."""
        for event in self.log[since:]:
            if predicate(event):
                return event
        future: asyncio.Future[Event] = asyncio.get_running_loop().create_future()
        self._waiters.append((predicate, future))
        try:
            return await asyncio.wait_for(future, timeout)
        except TimeoutError:
            recent = "\n  ".join(repr(e) for e in self.log[-25:])
            raise TimeoutError(
                f"nothing matched within {timeout}s; the last events were:\n  {recent}"
            ) from None
