"""What scripted users do: run slash commands, type into autocomplete, click buttons, pick from
selects, submit modals, react, and post. Each becomes the gateway event Discord would send.

A mixin of FakeDiscord, kept apart so the server module stays about serving.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, cast

from tests.fakediscord.interactions import build_interaction, command_data, modal_components
from tests.fakediscord.records import Attachment, Interaction, Message
from tests.fakediscord.world import Channel, User, World

if TYPE_CHECKING:
    from tests.fakediscord.gateway import Gateway
    from tests.fakediscord.records import Recorder
    from tests.fakediscord.server import FakeDiscord
    from tests.fakediscord.state import State


class UserActions:
    world: World
    state: State
    gateway: Gateway
    recorder: Recorder

    @property
    def fake(self) -> FakeDiscord:
        return cast("FakeDiscord", self)

    @property
    def channel(self) -> Channel:
        """The default channel, #clips."""
        return self.world.guild.channels[0]

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
        """A file a user attaches (for an attachment option, or `post_message`), served back at
        its `url` on the fake so `Attachment.read()` gets the bytes."""
        return self.state.upload(
            filename,
            data,
            content_type=content_type,
            width=width,
            height=height,
            ephemeral=ephemeral,
        )

    async def slash_command(
        self,
        name: str,
        options: dict[str, Any] | None = None,
        *,
        user: User | str = "alice",
        channel: Channel | int | str | None = None,
        locale: str = "en-US",
    ) -> Interaction:
        """A user runs `/name` (or `/group sub`); options are typed from the synced schema."""
        where = self._channel(channel)
        guild = self.world.guild_of(where)
        data = command_data(self.fake, name, options or {}, guild_id=guild.id if guild else None)
        return await self._interact(2, user, where, data, locale=locale)

    async def autocomplete(
        self,
        name: str,
        options: dict[str, Any],
        *,
        focused: str,
        user: User | str = "alice",
        channel: Channel | int | str | None = None,
    ) -> Interaction:
        """A user types into option `focused`; `await ix.wait_choices()` gives the bot's choices."""
        where = self._channel(channel)
        guild = self.world.guild_of(where)
        data = command_data(
            self.fake, name, options, guild_id=guild.id if guild else None, focused=focused
        )
        return await self._interact(4, user, where, data)

    async def click_button(
        self,
        message: Message | int,
        custom_id: str | None = None,
        *,
        label: str | None = None,
        user: User | str = "alice",
    ) -> Interaction:
        """A user clicks a button (by custom_id or label) on a message the bot sent."""
        msg = self._message(message)
        comp = msg.component(custom_id, label=label)
        if comp.get("type") != 2 or comp.get("style") == 5 or "custom_id" not in comp:
            raise ValueError(f"{comp} is not a clickable (non-link) button")
        if comp.get("disabled"):
            raise ValueError(f"button {comp['custom_id']!r} is disabled; no user can click it")
        data = {"custom_id": comp["custom_id"], "component_type": 2}
        return await self._component(msg, user, data)

    async def select(
        self,
        message: Message | int,
        custom_id: str,
        values: Sequence[str],
        *,
        user: User | str = "alice",
    ) -> Interaction:
        """A user picks `values` in a string select (values are the options' values)."""
        msg = self._message(message)
        comp = msg.component(custom_id)
        allowed = [o["value"] for o in comp.get("options", [])]
        if comp.get("type") != 3 or comp.get("disabled") or any(v not in allowed for v in values):
            raise ValueError(f"cannot pick {list(values)} in {comp}")
        if not comp.get("min_values", 1) <= len(values) <= comp.get("max_values", 1):
            raise ValueError(
                f"{custom_id!r} takes {comp.get('min_values', 1)} to {comp.get('max_values', 1)}"
            )
        data = {"custom_id": custom_id, "component_type": 3, "values": list(values)}
        return await self._component(msg, user, data)

    async def _component(self, msg: Message, user: User | str, data: dict[str, Any]) -> Interaction:
        who = self.world.user(user)
        if msg.ephemeral and msg.interaction is not None and msg.interaction.user is not who:
            raise ValueError(f"only {msg.interaction.user.name} can see ephemeral message {msg.id}")
        channel = self.world.find_channel(msg.channel_id)
        assert channel is not None
        return await self._interact(3, who, channel, data, message=msg)

    async def submit_modal(
        self,
        custom_id: str,
        values: dict[str, Any] | None = None,
        *,
        user: User | str | None = None,
        interaction: Interaction | None = None,
    ) -> Interaction:
        """A user submits the modal the bot showed (the latest with this custom_id, or the one
        `interaction` got); `values` maps input custom_ids to text (or lists, for selects)."""
        shown = [
            cb
            for cb in (e.callback for e in self.recorder.log if e.callback is not None)
            if cb.type == 9
            and cb.data.get("custom_id") == custom_id
            and (interaction is None or cb.interaction is interaction)
        ]
        if not shown:
            raise LookupError(f"the bot never showed a modal {custom_id!r}")
        source = shown[-1].interaction
        data = {
            "custom_id": custom_id,
            "components": modal_components(shown[-1].data, values or {}),
        }
        who = source.user if user is None else user
        return await self._interact(5, who, source.channel, data, message=source.message)

    async def _interact(
        self,
        type: int,
        user: User | str,
        channel: Channel,
        data: dict[str, Any],
        *,
        message: Message | None = None,
        locale: str = "en-US",
    ) -> Interaction:
        who = self.world.user(user)
        ix = build_interaction(
            self.fake,
            type=type,
            user=who,
            channel=channel,
            data=data,
            message=message,
            locale=locale,
        )
        self.state.interactions[ix.id] = ix
        self.state.by_token[ix.token] = ix
        self.recorder.record("interaction", interaction=ix)
        if not await self.gateway.dispatch("INTERACTION_CREATE", ix.payload, newest_only=True):
            raise RuntimeError("no bot is connected to the fake gateway")
        return ix

    async def add_reaction(
        self, message: Message | int, emoji: str, *, user: User | str = "alice"
    ) -> None:
        """A user reacts; the bot gets MESSAGE_REACTION_ADD (if it has the reactions intent)."""
        await self.state.react(self._message(message), emoji, self.world.user(user), add=True)

    async def remove_reaction(
        self, message: Message | int, emoji: str, *, user: User | str = "alice"
    ) -> None:
        await self.state.react(self._message(message), emoji, self.world.user(user), add=False)

    async def post_message(
        self,
        content: str = "",
        *,
        user: User | str = "alice",
        channel: Channel | int | str | None = None,
        files: Sequence[Attachment] = (),
    ) -> Message:
        """A user posts in a channel (MESSAGE_CREATE; content is blanked for a bot without the
        message-content intent, as Discord does)."""
        where = self._channel(channel)
        msg = self.state.add_message(where, self.world.user(user), {"content": content}, {})
        msg.attachments = list(files)
        for attachment in files:
            attachment.ephemeral = False
        await self.state.echo("MESSAGE_CREATE", msg)
        return msg

    def _channel(self, channel: Channel | int | str | None) -> Channel:
        if channel is None:
            return self.channel
        if isinstance(channel, Channel):
            return channel
        found = self.world.find_channel(channel) if isinstance(channel, int) else None
        return found or self.world.guild.channel(channel)

    def _message(self, message: Message | int) -> Message:
        msg = message if isinstance(message, Message) else self.state.store.get(message)
        if msg is None or msg.deleted:
            raise LookupError(f"no message {message!r} (deleted, or never sent)")
        return msg
