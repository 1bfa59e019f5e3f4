"""Malformed gateway events and interaction data: logged and dropped, the bot stays up.

Sent through the fake Discord's real gateway websocket to an unmodified discord.py client.
"""

from __future__ import annotations

import logging

import pytest

from tests.fakediscord import FakeDiscord

pytestmark = [pytest.mark.slow, pytest.mark.timeout(60)]


def malformed(fake: FakeDiscord) -> list[tuple[str, object]]:
    guild, channel = fake.world.guild, fake.world.guild.channel("clips")
    return [
        ("INTERACTION_CREATE", {"id": "1", "type": 2}),  # no token, application, data
        ("INTERACTION_CREATE", {"id": "x", "type": "slash", "token": 5, "data": []}),
        ("INTERACTION_CREATE", ["not", "an", "object"]),
        ("MESSAGE_REACTION_ADD", {"user_id": "not a number", "emoji": "🔁"}),
        ("MESSAGE_REACTION_ADD", {"channel_id": str(channel.id), "guild_id": str(guild.id)}),
        ("GUILD_MEMBER_UPDATE", {"guild_id": str(guild.id)}),
        ("CHANNEL_UPDATE", {"id": str(channel.id), "type": 0, "guild_id": "garbage"}),
        ("NO_SUCH_EVENT", {"anything": [1, 2, 3]}),
    ]


async def test_malformed_events_are_dropped_and_the_next_command_is_answered(stack, caplog) -> None:
    async with FakeDiscord() as fake, fake.running(await stack.new_bot()):
        caplog.set_level(logging.WARNING, logger="bot.gateway_guard")
        for event, data in malformed(fake):
            assert await fake.gateway.dispatch(event, data) == 1  # the bot's session got it
        ix = await fake.slash_command("create", {"prompt": "a fox -seed 1"}, user="alice")
        answer = await ix.wait_reply()
        assert "queued" in answer.content and not answer.ephemeral
        ix = await fake.slash_command("create", {"prompt": "a fox -motion 9"}, user="alice")
        refusal = await ix.wait_reply()
        assert refusal.ephemeral and "-motion" in refusal.content
        assert len(fake.gateway.sessions) == 1  # no reconnect was needed either
    dropped = [r.getMessage() for r in caplog.records if r.name == "bot.gateway_guard"]
    assert any("malformed INTERACTION_CREATE" in m for m in dropped), dropped
    assert any("malformed MESSAGE_REACTION_ADD" in m for m in dropped), dropped
