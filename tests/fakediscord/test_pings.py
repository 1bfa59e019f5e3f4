"""The fake knows whom a new message notifies, as Discord decides it from `allowed_mentions`, so
tests can tell a mention that pings from one that only shows a name."""

from __future__ import annotations

from collections.abc import AsyncIterator

import discord
import pytest

from tests.fakediscord import FakeDiscord

pytestmark = pytest.mark.timeout(20)


@pytest.fixture
async def channel() -> AsyncIterator[tuple[FakeDiscord, discord.TextChannel]]:
    async with (
        FakeDiscord() as fake,
        fake.running(discord.Client(intents=discord.Intents.default())) as client,
    ):
        found = client.get_channel(fake.channel.id)
        assert isinstance(found, discord.TextChannel)
        yield fake, found


async def test_a_mention_pings_unless_allowed_mentions_leave_it_out(channel) -> None:
    fake, place = channel
    alice, bob = fake.users["alice"], fake.users["bob"]
    text = f"{alice.mention} and {bob.mention}"
    default = await place.send(text)
    quiet = await place.send(text, allowed_mentions=discord.AllowedMentions.none())
    only_bob = await place.send(
        text, allowed_mentions=discord.AllowedMentions(users=[discord.Object(bob.id)])
    )
    await quiet.edit(content=f"{text}!", allowed_mentions=discord.AllowedMentions.all())
    pinged = fake.state.pinged
    assert pinged[default.id] == [alice, bob]
    assert pinged[quiet.id] == []  # an edit notifies nobody
    assert pinged[only_bob.id] == [bob]
    assert {u.name for u in fake.state.store[quiet.id].mentions} == {"alice", "bob"}
