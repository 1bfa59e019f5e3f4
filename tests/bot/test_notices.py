"""Telling a member without an interaction: one DM per topic and window; where DMs are closed,
one line in the channel per member and window that pings nobody; otherwise nothing public."""

from __future__ import annotations

from collections.abc import AsyncIterator

import discord
import pytest

from bot.notices import tell_member
from tests.fakediscord import FakeDiscord, Message

pytestmark = pytest.mark.timeout(30)


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord() as server:
        yield server


@pytest.fixture
async def client(fake: FakeDiscord) -> AsyncIterator[discord.Client]:
    async with fake.running(discord.Client(intents=discord.Intents.default())) as running:
        yield running


def clip(fake: FakeDiscord, client: discord.Client) -> discord.PartialMessage:
    """A message of the bot's in the channel: where a public line would reply."""
    channel = client.get_partial_messageable(fake.channel.id, guild_id=fake.world.guild.id)
    return channel.get_partial_message(
        fake.state.add_message(fake.channel, fake.bot_user, {}, {}).id
    )


def channel_posts(fake: FakeDiscord) -> list[Message]:
    return [m for m in fake.visible_messages() if m.content]


async def test_one_dm_per_topic_and_window(fake, client, redis) -> None:
    bob = fake.users["bob"]
    where = clip(fake, client)

    async def tell(topic: str, text: str) -> str | None:
        return await tell_member(
            client, redis, user_id=bob.id, topic=topic, text=text, fallback=where
        )

    assert await tell("remix:QuotaExceeded", "over your cap \u202e!") == "dm"
    assert await tell("remix:QuotaExceeded", "over your cap") is None
    assert await tell("remix:MemberBanned", "banned") == "dm"
    dm = fake.world.dm_channels[bob.id]
    sent = [m for m in fake.messages if m.channel_id == dm.id]
    assert [m.content for m in sent] == ["over your cap !", "banned"]
    assert channel_posts(fake) == []


async def test_closed_dms_get_one_quiet_line_per_member_and_window(fake, client, redis) -> None:
    bob = fake.users["bob"]
    bob.accepts_dms = False
    where = clip(fake, client)
    told = [
        await tell_member(client, redis, user_id=bob.id, topic=topic, text=topic, fallback=where)
        for topic in ("one", "two", "one")
    ]
    assert told == ["public", None, None]
    [line] = channel_posts(fake)
    assert line.content.startswith(f"<@{bob.id}> one") and "DMs are closed" in line.content
    assert int(line.message_reference["message_id"]) == where.id
    assert fake.state.pinged[line.id] == []


async def test_a_dm_failing_otherwise_posts_nothing_in_the_channel(fake, client, redis) -> None:
    bob = fake.users["bob"]
    where = clip(fake, client)
    dm = fake.world.dm_channel(bob)
    fake.fail_next("POST", f"/channels/{dm.id}/messages", status=403, code=50001)
    told = await tell_member(client, redis, user_id=bob.id, topic="t", text="t", fallback=where)
    assert told is None and channel_posts(fake) == []
