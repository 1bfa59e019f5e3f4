"""Interaction callbacks and the interaction webhook (original response, followups).

What discord.py 2.7 sends: `POST /interactions/{id}/{token}/callback?with_response=1`, and it reads
`{"interaction": {"id": …, "response_message_id": …}, "resource": {"type": …, "message": …}}` back.
Discord's rules the fake enforces: one callback per interaction (40060), within `ack_deadline`
seconds (10062), and a first followup after a "thinking…" defer fills that placeholder instead of
posting a new message (keeping its ephemerality).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from tests.fakediscord.messages import (
    ApiError,
    check_choices,
    check_message,
    check_modal,
    invalid,
    not_found,
    read_body,
)
from tests.fakediscord.records import (
    COMPONENTS_V2,
    EPHEMERAL,
    LOADING,
    Callback,
    Interaction,
    Message,
)
from tests.fakediscord.rest import json_response, no_content

if TYPE_CHECKING:
    from tests.fakediscord.server import FakeDiscord

INTERACTION_FLAGS = EPHEMERAL | 4 | 4096 | COMPONENTS_V2
# interaction type -> callback types Discord accepts for it
ALLOWED = {2: {4, 5, 9}, 3: {4, 5, 6, 7, 9}, 4: {8}, 5: {4, 5, 6, 7}}


class Webhooks:
    def __init__(self, fake: FakeDiscord) -> None:
        self.fake = fake

    async def callback(self, request: web.Request) -> web.Response:
        fake = self.fake
        ix = fake.state.interactions.get(int(request.match_info["interaction_id"]))
        if ix is None or ix.token != request.match_info["token"]:
            raise ApiError(404, 10062, "Unknown interaction")
        if ix.callbacks:
            raise ApiError(400, 40060, "Interaction has already been acknowledged.")
        late = fake.ack_deadline is not None and fake.clock() - ix.created > fake.ack_deadline
        if late:
            fake.recorder.record(
                "late_callback", interaction=ix, data={"after_s": fake.clock() - ix.created}
            )
            raise ApiError(404, 10062, "Unknown interaction")
        body, files = await read_body(request)
        cb_type, data = body.get("type"), body.get("data") or {}
        if cb_type not in ALLOWED.get(ix.type, set()) or (cb_type in (6, 7) and ix.message is None):
            raise invalid(
                "type",
                f"Interaction response type {cb_type} is invalid for interaction type {ix.type}",
            )
        limit = fake.attachment_size_limit
        if cb_type in (4, 7):
            check_message(data, files, size_limit=limit, creating=cb_type == 4)
        elif cb_type == 9:
            check_modal(data)
        elif cb_type == 8:
            check_choices(data)
        flags = (data.get("flags") or 0) & INTERACTION_FLAGS
        msg: Message | None = None
        if cb_type in (4, 5):
            if cb_type == 5:
                data_for_msg: dict[str, Any] = {"flags": flags | LOADING}
                files = {}
            else:
                data_for_msg = {**data, "flags": flags}
            msg = fake.state.add_message(
                ix.channel,
                fake.world.bot,
                data_for_msg,
                files,
                interaction=ix,
                type=20 if ix.type == 2 else 0,
                webhook_id=fake.world.application_id,
            )
            ix.original = msg
        elif cb_type in (6, 7):
            msg = ix.message
            ix.original = msg
            if cb_type == 7 and msg is not None:
                fake.state.edit(msg, data, files)
        callback = Callback(
            ix, cb_type, data, files=list(msg.attachments) if cb_type == 4 and msg else []
        )
        ix.callbacks.append(callback)
        fake.recorder.record("callback", interaction=ix, callback=callback, message=msg)
        if msg is not None and cb_type in (4, 5, 7):
            await fake.state.echo("MESSAGE_UPDATE" if cb_type == 7 else "MESSAGE_CREATE", msg)
        if request.query.get("with_response", "").lower() not in ("1", "true"):
            return no_content()
        info: dict[str, Any] = {
            "id": str(ix.id),
            "type": ix.type,
            "activity_instance_id": None,
            "response_message_loading": cb_type == 5,
            "response_message_ephemeral": bool(msg and msg.ephemeral),
        }
        resource: dict[str, Any] = {"type": cb_type}
        if msg is not None and cb_type in (4, 5, 7):
            info["response_message_id"] = str(msg.id)
            resource["message"] = fake.state.payload(msg)
        return json_response({"interaction": info, "resource": resource})

    def interaction(self, request: web.Request) -> Interaction:
        fake = self.fake
        ix = fake.state.by_token.get(request.match_info["token"])
        if ix is None or int(request.match_info["app_id"]) != fake.world.application_id:
            raise not_found("Webhook", 10015)
        if not ix.callbacks:  # the webhook exists only once the interaction was answered
            raise not_found("Webhook", 10015)
        return ix

    def target(self, request: web.Request, ix: Interaction) -> Message:
        mid = request.match_info["message_id"]
        if mid == "@original":
            msg = ix.original
        else:
            msg = next((m for m in [ix.original, *ix.followups] if m and m.id == int(mid)), None)
        if msg is None or msg.deleted:
            raise not_found("Message", 10008)
        return msg

    async def followup(self, request: web.Request) -> web.Response:
        fake = self.fake
        ix = self.interaction(request)
        body, files = await read_body(request)
        check_message(body, files, size_limit=fake.attachment_size_limit, creating=True)
        flags = (body.get("flags") or 0) & INTERACTION_FLAGS
        placeholder = ix.original
        if (
            placeholder is not None
            and placeholder.loading
            and not placeholder.deleted
            and placeholder.interaction is ix
        ):
            # Discord: a followup while the deferral is loading resolves the loading state
            # (once the "thinking…" message is deleted, a followup is a new message).
            keep = placeholder.flags & EPHEMERAL
            fake.state.edit(placeholder, {**body, "flags": (flags & ~EPHEMERAL) | keep}, files)
            msg = placeholder
            event = "MESSAGE_UPDATE"
        else:
            msg = fake.state.add_message(
                ix.channel,
                fake.world.bot,
                {**body, "flags": flags},
                files,
                interaction=ix,
                webhook_id=fake.world.application_id,
            )
            event = "MESSAGE_CREATE"
        ix.followups.append(msg)
        fake.recorder.record("followup", interaction=ix, message=msg)
        await fake.state.echo(event, msg)
        return json_response(
            fake.state.payload(msg)
        )  # for interaction followups `wait` is always true

    async def get_message(self, request: web.Request) -> web.Response:
        ix = self.interaction(request)
        return json_response(self.fake.state.payload(self.target(request, ix)))

    async def edit_message(self, request: web.Request) -> web.Response:
        fake = self.fake
        ix = self.interaction(request)
        msg = self.target(request, ix)
        body, files = await read_body(request)
        check_message(body, files, size_limit=fake.attachment_size_limit, creating=False)
        if "flags" in body:  # ephemerality cannot change after the fact
            body["flags"] = ((body["flags"] or 0) & INTERACTION_FLAGS & ~EPHEMERAL) | (
                msg.flags & EPHEMERAL
            )
        fake.state.edit(msg, body, files)
        await fake.state.echo("MESSAGE_UPDATE", msg)
        return json_response(fake.state.payload(msg))

    async def delete_message(self, request: web.Request) -> web.Response:
        ix = self.interaction(request)
        await self.fake.state.delete(self.target(request, ix))
        return no_content()
