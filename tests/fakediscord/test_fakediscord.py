"""The fake Discord against an unmodified discord.py 2.7 client over real sockets.

A tiny bot defined here exercises each thing the real bot relies on: slash commands, a deferral
with a file, a persistent DynamicItem button across a restart, a modal, an attachment option,
autocomplete, a reaction listener, and nonce-enforced sends. Assertions are on what the fake
received, the way a user would see it.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import re
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import discord
import pytest
from discord import app_commands
from discord.ext import commands

from tests.fakediscord import FakeDiscord, Overwrite
from tests.fakediscord.world import SEND_MESSAGES

pytestmark = pytest.mark.timeout(20)

CLIP = b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 4


class CounterButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"counter:(?P<n>\d+)"):
    """State lives in the custom_id, so a click still works after the bot restarts."""

    def __init__(self, n: int) -> None:
        super().__init__(discord.ui.Button(label=f"+1 ({n})", custom_id=f"counter:{n}"))
        self.n = n

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str]
    ) -> CounterButton:
        return cls(int(match["n"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        view = discord.ui.View(timeout=None).add_item(CounterButton(self.n + 1))
        await interaction.response.edit_message(content=f"Count: {self.n + 1}", view=view)


class Feedback(discord.ui.Modal, title="Feedback"):
    text: discord.ui.TextInput[Feedback] = discord.ui.TextInput(
        label="What did you think?", custom_id="feedback_text"
    )

    async def on_submit(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_message(f"Thanks: {self.text.value}", ephemeral=True)


class Pick(discord.ui.View):
    """A select answered with a deferred update, then an edit of the original response."""

    def __init__(self) -> None:
        super().__init__(timeout=None)

    @discord.ui.select(
        custom_id="pick",
        options=[
            discord.SelectOption(label="A", value="a"),
            discord.SelectOption(label="B", value="b"),
        ],
    )
    async def pick(self, interaction: discord.Interaction, select: discord.ui.Select[Pick]) -> None:
        await interaction.response.defer()
        await interaction.edit_original_response(content=f"picked {select.values[0]}")


class DemoBot(commands.Bot):
    """What a bot does with discord.py, in miniature."""

    def __init__(self, intents: discord.Intents | None = None) -> None:
        intents = intents or discord.Intents.default()
        super().__init__(commands.when_mentioned, intents=intents, guild_ready_timeout=0.05)
        self.seen: dict[str, Any] = {}
        self.errors: list[discord.DiscordException] = []
        self.changed = asyncio.Condition()
        self.add_commands()

    async def note(self, key: str, value: Any) -> None:
        async with self.changed:
            if key == "error":
                self.errors.append(value)
            else:
                self.seen[key] = value
            self.changed.notify_all()

    async def wait_errors(self, count: int) -> list[discord.DiscordException]:
        """What the bot saw after the fake answered (no event is recorded after that)."""
        async with self.changed:
            await asyncio.wait_for(self.changed.wait_for(lambda: len(self.errors) >= count), 5)
        return self.errors

    async def setup_hook(self) -> None:
        self.add_dynamic_items(CounterButton)
        await self.tree.sync()

    async def on_message(self, message: discord.Message) -> None:
        if not message.author.bot:
            await self.note("message", message.content)

    async def wait_seen(self, key: str) -> Any:
        async with self.changed:
            await asyncio.wait_for(self.changed.wait_for(lambda: key in self.seen), 5)
        return self.seen[key]

    async def on_raw_reaction_add(self, payload: discord.RawReactionActionEvent) -> None:
        if payload.user_id == self.user.id or str(payload.emoji) != "⭐":  # type: ignore[union-attr]
            return
        channel = self.get_channel(payload.channel_id)
        assert isinstance(channel, discord.TextChannel) and payload.member is not None
        await channel.send(f"starred by {payload.member.name}")

    def add_commands(self) -> None:
        tree = self.tree

        @tree.error
        async def on_error(interaction: discord.Interaction, error: Exception) -> None:
            await self.note("error", getattr(error, "original", error))

        @tree.command()
        async def ping(interaction: discord.Interaction) -> None:
            """Answers pong."""
            response = await interaction.response.send_message("pong")
            await self.note("ping_response", response)

        @tree.command()
        @app_commands.describe(prompt="what to render")
        async def render(interaction: discord.Interaction, prompt: str) -> None:
            """Defers, then delivers a clip."""
            await interaction.response.defer(thinking=True)
            file = discord.File(io.BytesIO(CLIP), filename="clip.mp4")
            await interaction.followup.send(f"rendered: {prompt}", file=file)

        @tree.command()
        async def counter(interaction: discord.Interaction) -> None:
            """A counter with a persistent button."""
            view = discord.ui.View(timeout=None).add_item(CounterButton(0))
            await interaction.response.send_message("Count: 0", view=view)

        @tree.command()
        async def menu(interaction: discord.Interaction) -> None:
            """An ephemeral menu."""
            await interaction.response.send_message("choose", view=Pick(), ephemeral=True)

        @tree.command()
        async def feedback(interaction: discord.Interaction) -> None:
            """Opens a modal."""
            await interaction.response.send_modal(Feedback())

        @tree.command()
        async def animate(interaction: discord.Interaction, image: discord.Attachment) -> None:
            """Reads the attached file."""
            data = await image.read()
            digest = hashlib.sha256(data).hexdigest()[:12]
            await interaction.response.send_message(f"{image.filename} {len(data)} {digest}")

        async def styles(
            interaction: discord.Interaction, current: str
        ) -> list[app_commands.Choice[str]]:
            names = ["anime", "analog film", "claymation", "noir"]
            return [app_commands.Choice(name=n, value=n) for n in names if n.startswith(current)]

        @tree.command()
        @app_commands.autocomplete(name=styles)
        async def style(interaction: discord.Interaction, name: str) -> None:
            """Picks a style."""
            await interaction.response.send_message(f"style {name}", ephemeral=True)

        @tree.command()
        async def slow(interaction: discord.Interaction) -> None:
            """Answers too late."""
            await asyncio.sleep(0.3)
            await interaction.response.send_message("finally")

        @tree.command()
        async def twice(interaction: discord.Interaction) -> None:
            """Acknowledges twice, which Discord refuses."""
            await interaction.response.defer()
            # discord.py refuses a second response itself, so go one layer down, like a second
            # process answering the same interaction would
            adapter = discord.webhook.async_.async_context.get()
            params = discord.webhook.async_.interaction_response_params(type=5)
            await adapter.create_interaction_response(
                interaction.id, interaction.token, session=interaction._session, params=params
            )


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord() as server:
        yield server


@pytest.fixture
async def bot(fake: FakeDiscord) -> AsyncIterator[DemoBot]:
    async with fake.running(DemoBot()) as client:
        yield client


async def test_login_identify_and_sync(fake: FakeDiscord, bot: DemoBot) -> None:
    assert bot.user is not None and bot.user.id == fake.bot_user.id
    assert bot.application_id == fake.application_id
    identify = next(e for e in fake.log if e.kind == "identify")
    assert identify.data["intents"] == discord.Intents.default().value
    connect = next(e for e in fake.log if e.kind == "connect")
    assert connect.data["compress"] == "zlib-stream"  # answered with zlib binary frames
    names = fake.command_syncs[-1].data["names"]
    assert {"ping", "render", "counter", "feedback", "animate", "style"} <= set(names)
    guild = bot.get_guild(fake.world.guild.id)
    assert guild is not None and guild.get_channel(fake.channel.id) is not None
    await asyncio.wait_for(bot.wait_until_ready(), 5)


async def test_slash_command_reply(fake: FakeDiscord, bot: DemoBot) -> None:
    ix = await fake.slash_command("ping", user="bob")
    reply = await ix.wait_reply()
    assert reply.content == "pong" and not reply.ephemeral
    assert ix.response is not None and ix.response.name == "message"
    assert reply in fake.visible_messages()
    # discord.py parsed the fake's with_response answer into the message id it created
    assert (await bot.wait_seen("ping_response")).message_id == reply.id


async def test_defer_then_followup_with_file(fake: FakeDiscord, bot: DemoBot) -> None:
    ix = await fake.slash_command("render", {"prompt": "a fox in snow"})
    assert (await ix.wait_response()).name == "deferred_message"
    reply = await ix.wait_reply()
    assert reply.content == "rendered: a fox in snow"
    assert reply.files == {"clip.mp4": CLIP}
    assert reply is ix.original  # the first followup filled the "thinking…" placeholder
    assert reply.history and reply.history[0]["flags"] & 128
    async with aiohttp.ClientSession() as http, http.get(reply.attachments[0].url) as resp:
        assert await resp.read() == CLIP  # the attachment URL serves the bytes back


async def test_dynamic_button_survives_restart(fake: FakeDiscord) -> None:
    async with fake.running(DemoBot()):
        ix = await fake.slash_command("counter")
        message = await ix.wait_reply()
        assert message.custom_ids == ["counter:0"]
        click = await fake.click_button(message, "counter:0", user="bob")
        assert await click.wait_reply() is message
        assert message.content == "Count: 1" and message.custom_ids == ["counter:1"]
        assert [h["content"] for h in message.history] == ["Count: 0"]

    async with fake.running(DemoBot()):  # a new process: nothing in memory but the custom_id
        click = await fake.click_button(message, label="+1 (1)")
        assert (await click.wait_response()).name == "update_message"
        assert message.content == "Count: 2" and message.custom_ids == ["counter:2"]
    assert len([e for e in fake.log if e.kind == "identify"]) == 2


async def test_modal_roundtrip(fake: FakeDiscord, bot: DemoBot) -> None:
    ix = await fake.slash_command("feedback")
    modal = await ix.wait_modal()
    assert modal["title"] == "Feedback"
    with pytest.raises(ValueError, match="required"):
        await fake.submit_modal(modal["custom_id"], {})
    submit = await fake.submit_modal(modal["custom_id"], {"feedback_text": "great clips"})
    reply = await submit.wait_reply()
    assert reply.content == "Thanks: great clips" and reply.ephemeral
    assert reply not in fake.visible_messages()


async def test_attachment_option_and_autocomplete(fake: FakeDiscord, bot: DemoBot) -> None:
    image = fake.upload("cat.png", b"\x89PNG fake image bytes")
    ix = await fake.slash_command("animate", {"image": image})
    digest = hashlib.sha256(image.data).hexdigest()[:12]
    assert (await ix.wait_reply()).content == f"cat.png {image.size} {digest}"

    typing = await fake.autocomplete("style", {"name": "an"}, focused="name")
    assert [c["value"] for c in await typing.wait_choices()] == ["anime", "analog film"]
    with pytest.raises(ValueError, match="required option 'name'"):
        await fake.slash_command("style")
    with pytest.raises(LookupError, match="never synced"):
        await fake.slash_command("nope")


async def test_reaction_listener_posts(fake: FakeDiscord, bot: DemoBot) -> None:
    post = await fake.post_message("look at this", user="alice")
    since = fake.cursor()
    await fake.add_reaction(post, "⭐", user="bob")
    reply = await fake.wait_for_message(lambda m: m.content.startswith("starred"), since=since)
    assert reply.content == "starred by bob" and reply.channel_id == fake.channel.id
    await fake.add_reaction(post, "👍", user="bob")  # ignored by the listener
    channel = bot.get_channel(fake.channel.id)
    assert isinstance(channel, discord.TextChannel)
    await channel.get_partial_message(post.id).add_reaction("🎬")
    assert [(e.kind, e.data["emoji"]) for e in fake.reactions] == [("reaction_add", "🎬")]
    bob = fake.users["bob"].id
    assert post.reactions == {"⭐": [bob], "👍": [bob], "🎬": [fake.bot_user.id]}


async def test_nonce_sends_once(fake: FakeDiscord, bot: DemoBot) -> None:
    channel = bot.get_channel(fake.channel.id)
    assert isinstance(channel, discord.TextChannel)
    first = await channel.send("clip ready", nonce="gen-42")
    again = await channel.send("clip ready", nonce="gen-42")
    other = await channel.send("clip ready", nonce="gen-43")
    assert first.id == again.id != other.id
    assert [m.content for m in fake.messages] == ["clip ready", "clip ready"]
    # a response lost on the way back: discord.py retries the 500 and the nonce dedupes it
    fake.fail_next("POST", "/channels/{channel_id}/messages", status=500, apply=True)
    lost = await channel.send("delivered once", nonce="gen-44")
    assert [m.id for m in fake.messages if m.content == "delivered once"] == [lost.id]
    assert [e.data["nonce"] for e in fake.log if e.kind == "dedup"] == ["gen-42", "gen-44"]


async def test_discord_rules_are_enforced(fake: FakeDiscord, bot: DemoBot) -> None:
    fake.ack_deadline = 0.1
    await fake.slash_command("slow")
    late = (await bot.wait_errors(1))[-1]
    assert isinstance(late, discord.NotFound) and late.code == 10062
    fake.ack_deadline = 3.0
    await fake.slash_command("twice")
    again = (await bot.wait_errors(2))[-1]
    assert isinstance(again, discord.HTTPException) and again.code == 40060

    channel = bot.get_channel(fake.channel.id)
    assert isinstance(channel, discord.TextChannel)
    with pytest.raises(discord.HTTPException, match="2000 or fewer"):
        await channel.send("x" * 2001)
    with pytest.raises(discord.NotFound):
        await channel.create_thread(name="nope", type=discord.ChannelType.public_thread)
    assert fake.unknown_routes == [("POST", f"/api/v10/channels/{channel.id}/threads")]

    locked = fake.world.add_channel(
        "announcements", overwrites=[Overwrite(fake.world.guild.id, 0, deny=SEND_MESSAGES)]
    )
    with pytest.raises(discord.Forbidden) as denied:
        await discord.PartialMessageable(state=bot._connection, id=locked.id).send("hi")
    assert denied.value.code == 50013


async def test_resume_after_reconnect_and_bad_token(fake: FakeDiscord, bot: DemoBot) -> None:
    await fake.request_reconnect()
    await fake.wait_for(lambda e: e.kind == "resume")
    ix = await fake.slash_command("ping")
    assert (await ix.wait_reply()).content == "pong"

    since = fake.cursor()
    await fake.close_gateway(4000)  # a dropped connection: events in between are replayed
    post = await fake.post_message("while you were away")
    await fake.add_reaction(post, "⭐", user="bob")
    await fake.wait_for(lambda e: e.kind == "resume", since=since)
    assert (await fake.wait_for_message(since=since)).content == "starred by bob"
    assert len([e for e in fake.log if e.kind == "identify"]) == 1

    stranger = DemoBot()
    with pytest.raises(discord.LoginFailure):
        await stranger.login("wrong-token")
    await stranger.close()


async def test_rest_answers_json_without_charset(fake: FakeDiscord) -> None:
    headers = {"Authorization": f"Bot {fake.token}"}
    async with aiohttp.ClientSession(headers=headers) as http:
        async with http.get(f"{fake.base_url}/api/v10/users/@me") as resp:
            assert resp.headers["Content-Type"] == "application/json"
            assert (await resp.json())["id"] == str(fake.bot_user.id)
        async with http.get(f"{fake.base_url}/api/v10/gateway/bot") as resp:
            assert (await resp.json())["url"] == fake.gateway_url


async def test_intents_decide_what_the_bot_gets(fake: FakeDiscord, bot: DemoBot) -> None:
    await fake.post_message("hello bot")
    assert await bot.wait_seen("message") == ""  # no message-content intent: blanked, like Discord

    nosy = DemoBot(intents=discord.Intents.all())
    async with fake.running(nosy, wait_ready=True):  # members intent: chunked at startup
        guild = nosy.get_guild(fake.world.guild.id)
        assert guild is not None and guild.chunked
        assert {m.name for m in guild.members} == {"reelbot", "alice", "bob", "mod"}
        assert "mod" in [r.name for r in guild.get_member(fake.users["mod"].id).roles]  # type: ignore[union-attr]
        await fake.post_message("hello bot")
        assert await nosy.wait_seen("message") == "hello bot"

    fake.allowed_intents = 0  # the portal toggles are off
    with pytest.raises(discord.PrivilegedIntentsRequired):
        async with fake.running(DemoBot(intents=discord.Intents.all())):
            pass


async def test_direct_messages(fake: FakeDiscord, bot: DemoBot) -> None:
    alice = await bot.fetch_user(fake.users["alice"].id)
    sent = await alice.send("your clip is ready")
    dm = fake.world.dm_channels[alice.id]
    assert fake.messages[-1].id == sent.id and fake.messages[-1].channel_id == dm.id
    fake.users["bob"].accepts_dms = False
    bob = await bot.fetch_user(fake.users["bob"].id)
    with pytest.raises(discord.Forbidden) as closed:
        await bob.send("hi")
    assert closed.value.code == 50007


async def test_select_history_and_transport_failures(fake: FakeDiscord, bot: DemoBot) -> None:
    menu = await (await fake.slash_command("menu")).wait_reply()
    assert menu.ephemeral and menu.custom_ids == ["pick"]
    with pytest.raises(ValueError, match="only alice can see"):
        await fake.select(menu, "pick", ["a"], user="bob")
    picked = await fake.select(menu, "pick", ["b"])
    assert (await picked.wait_reply()).content == "picked b"
    assert picked.response is not None and picked.response.name == "deferred_update"

    channel = bot.get_channel(fake.channel.id)
    assert isinstance(channel, discord.TextChannel)
    one, two = await channel.send("one"), await channel.send("two")
    await two.edit(content="two!")
    await one.delete()
    assert [m.content async for m in channel.history(limit=5)] == ["two!"]
    assert fake.deletions == [fake.messages[-2]]
    assert [h["content"] for h in fake.messages[-1].history] == ["two"]
    big = discord.File(io.BytesIO(b"z" * (fake.attachment_size_limit + 1)), "big.mp4")
    with pytest.raises(discord.HTTPException) as too_big:
        await channel.send(file=big)
    assert too_big.value.status == 413 and too_big.value.code == 40005
    fake.fail_next("POST", "/channels/{channel_id}/messages", status=0)
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await channel.send("dropped")
