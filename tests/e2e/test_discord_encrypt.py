"""/encrypt_text and /encrypt_image end to end: the fake Discord, an unmodified discord.py bot and
a real `python -m worker` on the tiny AnimateDiff family with its tiny ControlNet.

What the ControlNet receives is asserted in tests/worker/test_illusion.py (a hook on its
forward); here, what members see: the clip posted, the row saying what was hidden, and every
refusal private with nothing queued.
"""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from PIL import Image

from core.capabilities import capabilities_for
from tests.fakediscord import FakeDiscord, Message
from tests.harness.fleet import DEFAULT_QUEUE
from tests.harness.stack import PUBLIC_URL, Stack, probe
from tests.harness.waiting import eventually

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

# AnimateDiff sized for a CPU: 96x96 at 1:1, two steps (the worker checks the real family's)
ANIMATEDIFF_SMALL = capabilities_for("animatediff").model_copy(
    update={"native_pixels": 96 * 96, "default_steps": 2}
)


@pytest.fixture
async def illusions(redis_server, redis, data_dir: Path) -> AsyncIterator[Stack]:
    s = Stack(redis_server.url, data_dir, capabilities=ANIMATEDIFF_SMALL)
    yield s
    await s.close()


def logo() -> bytes:
    image = Image.new("RGB", (96, 96), (250, 250, 250))
    image.paste((10, 10, 10), (24, 24, 72, 72))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


async def clip_of(stack: Stack, fake: FakeDiscord, queued: Message) -> tuple[dict, bytes, str]:
    """The row's spec, the MP4 and the words of the clip posted in answer to `queued`."""

    def answers(m: Message) -> bool:
        ref = m.message_reference
        return (
            "your clip is ready" in m.content and bool(ref) and int(ref["message_id"]) == queued.id
        )

    result = await fake.wait_for_message(answers, timeout=120)
    [(name, data)] = result.files.items()
    assert name.endswith(".mp4")
    gid = result.content.split(f"{PUBLIC_URL}/clips/")[1].split()[0]
    row = await eventually(lambda: stack.store.get(gid), lambda r: r.discord_message_id)
    assert row.status == "done"
    return row.spec, data, result.content


async def test_a_word_and_a_picture_are_hidden_in_clips(illusions: Stack, workers) -> None:
    workers.env.update(REELBOT_BACKEND="animatediff", REELBOT_MODEL="builtin:tiny")
    workers.start()
    async with FakeDiscord() as fake, fake.running(await illusions.new_bot()):
        ix = await fake.slash_command(
            "encrypt_text",
            {
                "message": "  GM ",
                "prompt": "a city at night -ar 1:1 -seed 5 -len 1",
                "strength": 1.5,
                "font": "serif",
            },
        )
        queued = await ix.wait_reply()
        assert not queued.ephemeral and "queued" in queued.content
        spec, data, said = await clip_of(illusions, fake, queued)
        assert "`/encrypt_text message:GM font:serif prompt: a city at night -ar 1:1" in said
        assert spec["illusion_font"] == "serif"
        assert (spec["mode"], spec["illusion_text"], spec["illusion_strength"]) == (
            "illusion",
            "GM",
            1.5,
        )
        assert spec["input_media"] == [] and spec["seed"] == 5
        assert probe(data)[:2] == (96, 96)

        picture = fake.upload("logo.png", logo(), width=96, height=96)
        ix = await fake.slash_command(
            "encrypt_image", {"image": picture, "prompt": "a forest -seed 6 -len 1"}
        )
        queued = await ix.wait_reply()
        assert not queued.ephemeral and "queued" in queued.content
        spec, _data, said = await clip_of(illusions, fake, queued)
        assert "`/encrypt_image prompt: a forest" in said
        assert spec["mode"] == "illusion" and not spec.get("illusion_text")
        [stored] = spec["input_media"]
        assert stored.endswith(".png") and illusions.media.resolve(stored).exists()


async def test_refusals_are_private_and_queue_nothing(illusions: Stack, redis) -> None:
    async with FakeDiscord() as fake, fake.running(await illusions.new_bot()):
        ix = await fake.slash_command(
            "encrypt_text", {"message": "x" * 21, "prompt": "a city at night"}
        )
        reply = await ix.wait_reply()
        assert reply.ephemeral and "21 characters; a clip hides at most 20" in reply.content

        ix = await fake.slash_command(
            "encrypt_text", {"message": "xxx moaning", "prompt": "a city at night"}
        )
        reply = await ix.wait_reply()
        assert reply.ephemeral and "can't make this clip" in reply.content

        ix = await fake.slash_command(
            "encrypt_text", {"message": "GM", "prompt": "a city at night -loop"}
        )
        reply = await ix.wait_reply()
        assert reply.ephemeral and "loop" in reply.content
    assert await redis.zcard(DEFAULT_QUEUE) == 0
    assert illusions.store.list_unfinished() == []


async def test_a_model_without_illusions_refuses_naming_animatediff(stack: Stack, redis) -> None:
    async with FakeDiscord() as fake, fake.running(await stack.new_bot()):
        ix = await fake.slash_command("encrypt_text", {"message": "GM", "prompt": "a city"})
        reply = await ix.wait_reply()
        assert reply.ephemeral and "(`tiny`) can't hide a message" in reply.content
        assert "the animatediff model can" in reply.content
        picture = fake.upload("logo.png", logo(), width=96, height=96)
        ix = await fake.slash_command("encrypt_image", {"image": picture, "prompt": "a city"})
        reply = await ix.wait_reply()
        assert reply.ephemeral and "animatediff" in reply.content
        assert not [r for r in fake.requests if r.path.startswith("/attachments/")]
    assert await redis.zcard(DEFAULT_QUEUE) == 0
