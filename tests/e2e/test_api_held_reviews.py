"""A prompt the policy flags, asked through the REST API: held for a moderator as a Discord
request is. The API records it "held" and asks the bot (`jobs.review_requests`); the bot posts
the same review message with Approve / Reject in #mod-review; Approve queues it as the member's
own (nothing posted in a channel: the API tells its client), Reject fails it. Without a review
channel it fails with the policy's reason. Fake Discord ↔ unmodified discord.py bot ↔ the API
served on the same Redis and SQLite gallery.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from jobs.keys import heartbeat_key
from tests.api.conftest import Api, open_api
from tests.fakediscord import FakeDiscord, Message
from tests.harness.fleet import DEFAULT_QUEUE, idle_beat
from tests.harness.members import labels
from tests.harness.moderation import actions, moderating, new_bot
from tests.harness.stack import Stack
from tests.harness.waiting import eventually

pytestmark = [pytest.mark.slow, pytest.mark.timeout(150)]

FLAGGED = "a nude marble statue in a museum -seed 4"  # the shipped policy's nudity rule flags it


@pytest.fixture
async def api(stack: Stack, data_dir: Path) -> AsyncIterator[Api]:
    """The API on the stack's Redis and gallery."""
    async with open_api(stack.redis_url, f"sqlite:///{data_dir / 'reelbot.db'}", data_dir) as a:
        yield a


async def ask_flagged(api: Api, fake: FakeDiscord) -> str:
    """alice asks for a flagged prompt with her own token (the fixture's from now on); the
    clip's id (answered "held")."""
    alice = fake.users["alice"]
    api.token = api.issue(f"discord:{alice.id}", guild_id=fake.world.guild.id)
    answer = await api.post_clip({"prompt": FLAGGED})
    assert answer.status == 202 and answer.body["status"] == "held", answer.body
    return str(answer.body["id"])


async def review_message(fake: FakeDiscord) -> Message:
    return await fake.wait_for_message(
        lambda m: "Held for review" in m.content, channel="mod-review"
    )


def moderation_actions(stack: Stack) -> list[str]:
    """The audit log, oldest first, without the tokens' creation."""
    return [action for action in actions(stack) if not action.startswith("api_token")]


async def status(api: Api, gid: str) -> dict:
    return (await api.call("GET", f"/v1/clips/{gid}")).body


async def test_an_api_request_is_posted_for_review_and_approval_queues_it(
    stack, api, redis
) -> None:
    await redis.set(heartbeat_key("test-worker"), idle_beat())  # a worker is up
    async with moderating() as fake, fake.running(await new_bot(stack, fake)):
        alice = fake.users["alice"]
        gid = await ask_flagged(api, fake)
        review = await review_message(fake)
        assert f"<@{alice.id}> via the REST API" in review.content
        assert "-seed 4" in review.content and "a nude marble statue" in review.content
        assert "Rule `" in review.content and "`nude`" in review.content
        assert labels(review) == ["Approve", "Reject"]
        assert (await status(api, gid))["status"] == "held"
        assert await redis.zcard(DEFAULT_QUEUE) == 0

        ix = await fake.click_button(review, label="Approve", user="mod")
        decided = await ix.wait_reply()
        assert decided.id == review.id and "Approved by" in decided.content
        assert labels(decided) == []

        await eventually(lambda: redis.zcard(DEFAULT_QUEUE), lambda n: n == 1)
        row = stack.store.get(gid)
        assert (row.moderation, row.status) == ("ok", "queued")
        assert (await status(api, gid))["status"] == "queued"
        # Nothing said in a channel: the API's client hears through GET and its webhooks.
        assert [m for m in fake.visible_messages() if m.channel_id != review.channel_id] == []
    assert moderation_actions(stack) == ["hold", "approve"]


async def test_a_rejected_api_request_fails_and_its_member_is_told(stack, api, redis) -> None:
    async with moderating() as fake, fake.running(await new_bot(stack, fake)):
        alice = fake.users["alice"]
        gid = await ask_flagged(api, fake)
        review = await review_message(fake)

        ix = await fake.click_button(review, label="Reject", user="mod")
        modal = await ix.wait_modal()
        sent = await fake.submit_modal(modal["custom_id"], {"reason": "No nudity, please."})
        decided = await sent.wait_reply()
        assert decided.id == review.id and "Rejected by" in decided.content

        await fake.wait_for_message(
            lambda m: "did not approve" in m.content and "No nudity, please." in m.content,
            channel=fake.world.dm_channel(alice).id,
        )
        read = await status(api, gid)
        assert read["status"] == "failed" and "No nudity, please." in read["error"]
        assert await redis.zcard(DEFAULT_QUEUE) == 0
    assert moderation_actions(stack) == ["hold", "reject"]


async def test_without_a_review_channel_an_api_request_fails_with_the_reason(
    stack, api, redis
) -> None:
    async with FakeDiscord() as fake, fake.running(await stack.new_bot()):
        gid = await ask_flagged(api, fake)
        read = await eventually(lambda: status(api, gid), lambda r: r["status"] != "held")
        assert read["status"] == "failed"
        assert read["error"].startswith("I can't make this clip: ")
        assert "nud" in read["error"].lower()
        assert [m for m in fake.visible_messages() if "Held for review" in m.content] == []
        assert await redis.zcard(DEFAULT_QUEUE) == 0
