"""🎬 Retake end to end: fake Discord ↔ unmodified discord.py bot ↔ real Redis ↔ a real
`python -m worker` on the tiny model ↔ SQLite gallery.

The owner of a 3-shot story picks shot 2 under 🎬 Retake: a new clip is posted, a child of the
story, one clip counted today, and the worker renders shot 2 alone (its log says so); another
member's click is refused privately.
"""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient, TestServer
from redis.asyncio import Redis

from gallery.web import create_app
from jobs.admission import Admission
from tests.e2e.test_discord_loop import frames_of
from tests.fakediscord import FakeDiscord
from tests.harness.members import user_id
from tests.harness.stack import PUBLIC_URL, Stack, clip_id
from tests.harness.waiting import eventually

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

SHOTS = ["a knight rides out", "the knight meets a dragon", "they share tea"]


async def test_the_owner_retakes_shot_2_and_gets_a_child_story(
    stack: Stack, workers, redis: Redis
) -> None:
    workers.start()
    async with FakeDiscord() as fake, fake.running(await stack.new_bot()):
        ix = await fake.slash_command(
            "story", {"prompt": " | ".join(SHOTS) + " -seed 4 -len 1"}, user="bob"
        )
        assert not (await ix.wait_reply()).ephemeral
        story = await fake.wait_for_message(lambda m: "your clip is ready" in m.content, timeout=90)
        gid = clip_id(story)
        await eventually(lambda: stack.store.get(gid), lambda r: r.discord_message_id)

        ix = await fake.click_button(story, label="Retake", user="alice")
        refused = await ix.wait_reply()
        assert refused.ephemeral
        assert "Only the person who made this story can retake its shots" in refused.content

        ix = await fake.click_button(story, label="Retake", user="bob")
        picker = await ix.wait_reply()
        assert picker.ephemeral and "Which shot" in picker.content
        options = picker.component(f"reelbot:retakeshot:{gid}")["options"]
        assert [o["label"] for o in options] == [
            "Shot 1: a knight rides out",
            "Shot 2: the knight meets a dragon",
            "Shot 3: they share tea",
        ]
        ix = await fake.select(picker, f"reelbot:retakeshot:{gid}", ["1"], user="bob")
        queued = await ix.wait_reply()
        assert not queued.ephemeral and "Retaking shot 2 of your story" in queued.content

        retake = await fake.wait_for_message(
            lambda m: "your clip is ready" in m.content and clip_id(m) != gid, timeout=90
        )
        child = stack.store.get(clip_id(retake))
        assert child is not None and child.parent_id == gid
        assert child.spec["retake"] == 1 and child.spec["seed"] != 4
        assert len(frames_of(retake)) == 3 * 24  # the whole story, again
        assert stack.store.get(gid).deleted_at is None  # the old one stays
        # 3 clips for the story, 1 for the retake: one shot rendered
        assert (await Admission(redis).usage(user_id(fake, "bob")))[1] == 4

    app = create_app(stack.store, stack.media, public_url=PUBLIC_URL)
    async with TestClient(TestServer(app)) as client:
        html = await (await client.get(f"/clips/{child.id}")).text()
    assert f'Retake of shot 2 of <a href="/clips/{gid}">a knight rides out | the knight' in html

    logs = workers.logs()
    assert logs.count("shot 2/3 rendered") == 2, logs  # the story's, then the retake's
    assert logs.count("shot 1/3 rendered") == 1 and logs.count("shot 3/3 rendered") == 1, logs
