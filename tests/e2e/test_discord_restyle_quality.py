"""/restyle's `quality` option, as /create's and /animate's: fast or hq for this clip, the
server's REELBOT_DEFAULT_QUALITY when unset; the queued message says which, the stored request
runs that tier's steps, and an option against the prompt's own switch is refused privately.
Fake Discord ↔ unmodified discord.py bot ↔ real Redis ↔ SQLite gallery (nothing renders).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from core.rendercaps import FastRecipe
from tests.fakediscord import FakeDiscord
from tests.harness.stack import WAN_SMALL, Stack
from tests.harness.uploads import mp4

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]

CAPS = WAN_SMALL.model_copy(update={"fast": FastRecipe(steps=1)})


@pytest.fixture
async def stack(redis_server, redis, data_dir) -> AsyncIterator[Stack]:
    s = Stack(redis_server.url, data_dir, capabilities=CAPS)
    yield s
    await s.close()


async def restyled(fake: FakeDiscord, options: dict[str, object]):
    video = fake.upload("holiday.mp4", mp4(1.5), content_type="video/mp4")
    ix = await fake.slash_command("restyle", {"video": video, **options}, user="bob")
    return await ix.wait_reply()


async def test_the_quality_option_picks_the_tier_and_the_queued_line_says_it(stack) -> None:
    async with FakeDiscord() as fake, fake.running(await stack.new_bot(default_quality="fast")):
        fast = await restyled(fake, {"prompt": "a watercolor painting -seed 5"})
        assert not fast.ephemeral and "· fast" in fast.content, fast.content
        hq = await restyled(fake, {"prompt": "claymation -seed 6", "quality": "hq"})
        assert not hq.ephemeral and "· hq" in hq.content, hq.content

    rows = {row.spec["seed"]: row.spec for row in stack.store.list_unfinished()}
    assert (rows[5]["quality"], rows[5]["steps"]) == ("fast", 1)
    assert (rows[6]["quality"], rows[6]["steps"]) == ("hq", CAPS.default_steps)


async def test_a_quality_option_against_the_prompts_switch_is_refused_privately(stack) -> None:
    async with FakeDiscord() as fake, fake.running(await stack.new_bot()):
        reply = await restyled(fake, {"prompt": "neon noir -hq", "quality": "fast"})
        assert reply.ephemeral
        assert "`-hq`" in reply.content and "`quality` option says `fast`" in reply.content
    assert stack.store.list_unfinished() == []
