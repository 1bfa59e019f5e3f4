"""/animate and /restyle when Discord's CDN is slow: the member sees "thinking…" in time, then
the queued message, or a private error with nothing left in the channel.

The fake refuses an interaction callback later than 3 s (Discord's "This interaction failed");
here every attachment takes longer than that to start downloading.
"""

from __future__ import annotations

import io
from collections.abc import AsyncIterator

import pytest
from PIL import Image

from tests.fakediscord import FakeDiscord
from tests.harness.fleet import DEFAULT_QUEUE
from tests.harness.stack import WAN_SMALL, Stack
from tests.harness.uploads import mp4

pytestmark = [pytest.mark.slow, pytest.mark.timeout(60)]

SLOW_S = 3.5  # past the fake's 3 s deadline for the first answer


@pytest.fixture
async def stack(redis_server, redis, data_dir) -> AsyncIterator[Stack]:
    s = Stack(redis_server.url, data_dir, capabilities=WAN_SMALL)  # i2v and v2v
    yield s
    await s.close()


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (320, 240), (40, 160, 90)).save(out, format="PNG")
    return out.getvalue()


@pytest.mark.parametrize(
    "command, option, filename, data",
    [
        ("animate", "image", "cat.png", png()),
        ("restyle", "video", "walk.mp4", mp4(1.0)),
    ],
)
async def test_a_slow_download_is_answered_in_time(stack, command, option, filename, data) -> None:
    async with FakeDiscord() as fake, fake.running(await stack.new_bot()):
        fake.attachment_delay_s = SLOW_S
        upload = fake.upload(filename, data)
        ix = await fake.slash_command(command, {option: upload, "prompt": "a calm scene"})
        queued = await ix.wait_reply(timeout=15)
        assert [c.type for c in ix.callbacks] == [5]  # "thinking…", before the deadline
        assert not queued.ephemeral and "queued" in queued.content
        assert [e for e in fake.recorder.log if e.kind == "late_callback"] == []


async def test_a_bad_file_found_after_thinking_is_refused_privately(stack, redis) -> None:
    async with FakeDiscord() as fake, fake.running(await stack.new_bot()):
        fake.attachment_delay_s = SLOW_S
        upload = fake.upload("movie.mp4", png())
        ix = await fake.slash_command("restyle", {"video": upload, "prompt": "claymation"})
        reply = await ix.wait_reply(timeout=15)
        assert reply.ephemeral and "a PNG picture" in reply.content
        # the public "thinking…" is gone: nothing stays in the channel
        assert [m for m in fake.visible_messages() if not m.ephemeral] == []
        assert await redis.zcard(DEFAULT_QUEUE) == 0
