"""The fake's rate limits answer as Discord's do, and discord.py, reading the headers, stays under
them: raw requests see the buckets fill and the 429s, a real client sees none."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import discord
import pytest
from discord import app_commands

from tests.fakediscord import FakeDiscord
from tests.fakediscord.ratelimits import MESSAGE, MESSAGES, RateLimits, Rule

pytestmark = pytest.mark.timeout(20)


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord(rate_limits=RateLimits.discord(), patch=False) as fake:
        yield fake


def bot_session(fake: FakeDiscord) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(
        base_url=f"{fake.base_url}/api/v10/", headers={"Authorization": f"Bot {fake.token}"}
    )


async def test_a_channels_posts_fill_their_bucket_then_get_429_with_retry_after(
    fake: FakeDiscord,
) -> None:
    channel = fake.world.guild.channels[0].id
    answers = []
    async with bot_session(fake) as http:
        for i in range(6):
            async with http.post(f"channels/{channel}/messages", json={"content": str(i)}) as r:
                answers.append((r.status, dict(r.headers), await r.json()))
        # edits count apart from posts, but answer with the same bucket hash
        message = answers[0][2]["id"]
        async with http.patch(f"channels/{channel}/messages/{message}", json={"content": "x"}) as r:
            edit = (r.status, dict(r.headers))
    assert [status for status, _, _ in answers] == [200] * 5 + [429]
    assert [h["X-RateLimit-Remaining"] for _, h, _ in answers[:5]] == ["4", "3", "2", "1", "0"]
    first = answers[0][1]
    assert first["X-RateLimit-Limit"] == "5" and 4.9 < float(first["X-RateLimit-Reset-After"]) <= 5
    _, headers, body = answers[5]
    assert body["global"] is False and 0 < body["retry_after"] <= 5
    assert headers["Retry-After"] == "5" and headers["Via"]
    assert headers["X-RateLimit-Scope"] == "user"
    assert edit[0] == 200 and edit[1]["X-RateLimit-Remaining"] == "4"
    assert edit[1]["X-RateLimit-Bucket"] == first["X-RateLimit-Bucket"]
    [hit] = fake.rate_limited
    assert (hit.method, hit.route, hit.scope) == ("POST", MESSAGES, "user")
    assert [m.content for m in fake.messages] == ["x", "1", "2", "3", "4"]  # the 6th never made


async def test_each_channel_has_its_own_bucket_and_the_global_limit_spans_them() -> None:
    limits = RateLimits(global_per_s=7)
    async with FakeDiscord(rate_limits=limits, patch=False) as fake, bot_session(fake) as http:
        general, clips = (c.id for c in fake.world.guild.channels[:2])
        statuses = []
        for channel in (general, general, general, clips, clips, clips, clips, general):
            async with http.post(f"channels/{channel}/messages", json={"content": "hi"}) as r:
                statuses.append((r.status, (await r.json()).get("global")))
    assert statuses == [(200, None)] * 7 + [(429, True)]
    assert [hit.scope for hit in fake.rate_limited] == ["global"]


async def test_interaction_callbacks_are_outside_every_limit() -> None:
    client = discord.Client(intents=discord.Intents.none())
    tree = app_commands.CommandTree(client)

    @tree.command()
    async def ping(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("pong")

    limits = RateLimits(global_per_s=2)
    async with (
        FakeDiscord(rate_limits=limits, strict_commands=False) as fake,
        fake.running(client),
    ):
        asked = [await fake.slash_command("ping") for _ in range(5)]  # past the global limit
        replies = [await ix.wait_reply() for ix in asked]
    assert [r.content for r in replies] == ["pong"] * 5
    assert [h for h in fake.rate_limited if h.route.startswith("/interactions/")] == []


async def test_without_rate_limits_the_fake_sends_no_rate_limit_headers() -> None:
    async with FakeDiscord(patch=False) as fake, bot_session(fake) as http:
        channel = fake.world.guild.channels[0].id
        for _ in range(8):
            async with http.post(f"channels/{channel}/messages", json={"content": "hi"}) as r:
                assert r.status == 200 and "X-RateLimit-Remaining" not in r.headers
    assert fake.rate_limited == []


async def test_discord_py_reading_the_headers_never_meets_a_429() -> None:
    """Posts, then edits, into one channel over several windows of a short bucket, one at a
    time as the bot sends them (channel_locks, the pacer): discord.py waits where the headers
    say, so every request lands and none is refused.
    (Requests fired at once can draw 429s whatever the headers: the first answer discord.py reads
    after a window resets sets its count without those still in flight. Posts and edits mixed at
    the limit can too: discord.py files both under the one hash. The bot does neither.)"""
    quick = {
        ("POST", MESSAGES): Rule(5, 0.5, "messages", counter="create"),
        ("PATCH", MESSAGE): Rule(5, 0.5, "messages", counter="edit"),
    }
    async with FakeDiscord(rate_limits=RateLimits(rules=quick)) as fake:
        client = discord.Client(intents=discord.Intents.none())
        async with fake.running(client):
            channel = client.get_partial_messageable(fake.world.guild.channels[0].id)
            first = await channel.send("first")
            for i in range(12):
                await channel.send(f"post {i}")
            for i in range(12):
                await first.edit(content=f"edit {i}")
    assert fake.rate_limited == []
    assert len(fake.messages) == 13 and len(fake.edits) == 12
