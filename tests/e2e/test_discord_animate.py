"""/animate end to end: a member uploads a picture, the fake Discord serves it to an unmodified
discord.py bot, which checks and stores it; a real worker process renders image-to-video.

Assertions are on what members see: the queued message saying how the picture was framed, the
clip posted once as an MP4 shaped like the picture, and a private error for a bad attachment,
with nothing queued and nothing stored.
"""

from __future__ import annotations

import io

import pytest
from PIL import Image

from core.capabilities import capabilities_for
from tests.fakediscord import FakeDiscord
from tests.harness.fleet import DEFAULT_QUEUE
from tests.harness.stack import PUBLIC_URL, probe, results_for_bot
from tests.harness.waiting import eventually

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]


def png(width: int, height: int) -> bytes:
    image = Image.new("RGB", (width, height), (30, 120, 200))
    image.paste((250, 200, 20), (width // 4, height // 4, width * 3 // 4, height * 3 // 4))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def fetches(fake: FakeDiscord) -> list[str]:
    """Downloads of uploaded files from the fake's CDN."""
    return [r.path for r in fake.requests if r.path.startswith("/attachments/")]


async def test_animate_posts_the_clip_once_shaped_like_the_picture(stack, workers) -> None:
    workers.start()
    upload = png(600, 800)  # 3:4, portrait
    async with FakeDiscord() as fake, fake.running(await stack.new_bot()):
        picture = fake.upload("IMG_0042.png", upload, width=600, height=800)
        ix = await fake.slash_command(
            "animate", {"image": picture, "prompt": "-seed 11", "motion": 2}, user="bob"
        )
        queued = await ix.wait_reply()
        assert not queued.ephemeral
        assert "queued" in queued.content and "animate this image" in queued.content
        assert "Aspect ratio 3:4, as your 600×800 picture" in queued.content
        assert len(fetches(fake)) == 1

        result = await fake.wait_for_message(
            lambda m: "your clip is ready" in m.content, timeout=60
        )
        assert result.message_reference
        assert int(result.message_reference["message_id"]) == queued.id
        assert f"<@{fake.users['bob'].id}>" in result.content
        assert "`/animate animate this image" in result.content
        assert "-motion 2" in result.content and "-seed 11" in result.content
        [(name, data)] = result.files.items()
        assert name.endswith(".mp4")
        width, height, _frames, _fps = probe(data)
        assert (width, height) == capabilities_for("tiny").snap_size(3, 4)
        assert width < height

        gid = result.content.split(f"{PUBLIC_URL}/clips/")[1].split()[0]
        row = await eventually(lambda: stack.store.get(gid), lambda r: r.discord_message_id)
        assert row.status == "done" and results_for_bot(fake) == [result]
        assert row.spec["mode"] == "i2v"
        # the store keeps a re-encoded PNG named after the generation, never the upload
        [stored] = row.spec["input_media"]
        assert stored == f"{gid[:2]}/{gid}.png"
        kept = stack.media.resolve(stored).read_bytes()
        assert kept != upload
        with Image.open(io.BytesIO(kept)) as image:
            assert (image.format, image.size) == ("PNG", (600, 800))


@pytest.mark.parametrize(
    "filename, data, words",
    [
        ("cat.png", b"just some text, honest\n" * 40, ["cat.png", "PNG, JPEG, WebP or GIF"]),
        ("dot.png", png(10, 10), ["dot.png", "10×10", "at least 64×64"]),
    ],
)
async def test_a_bad_attachment_gets_a_private_error_and_queues_nothing(
    stack, redis, filename, data, words
) -> None:
    async with FakeDiscord() as fake, fake.running(await stack.new_bot()):
        bad = fake.upload(filename, data, content_type="image/png")
        ix = await fake.slash_command("animate", {"image": bad, "prompt": "a cat waves"})
        reply = await ix.wait_reply()
        assert reply.ephemeral
        for word in words:
            assert word in reply.content
        assert await redis.zcard(DEFAULT_QUEUE) == 0
        assert [m for m in fake.visible_messages() if not m.ephemeral] == []
    assert not stack.media.root.exists() or not any(stack.media.root.rglob("*.png"))


async def test_bad_flags_are_refused_before_the_picture_is_fetched(stack, redis) -> None:
    async with FakeDiscord() as fake, fake.running(await stack.new_bot()):
        picture = fake.upload("cat.png", png(200, 200))
        ix = await fake.slash_command("animate", {"image": picture, "prompt": "-motion 9"})
        reply = await ix.wait_reply()
        assert reply.ephemeral and "-motion 9" in reply.content
        assert fetches(fake) == []
        assert await redis.zcard(DEFAULT_QUEUE) == 0


async def test_a_picture_lost_from_the_store_fails_the_clip_plainly(stack, workers) -> None:
    """The worker finds no input (a wiped media folder): one clear failure, not retries."""
    async with FakeDiscord() as fake, fake.running(await stack.new_bot()):
        picture = fake.upload("cat.png", png(320, 320))
        ix = await fake.slash_command("animate", {"image": picture})
        queued = await ix.wait_reply()
        assert "Aspect ratio 1:1" in queued.content
        [stored] = list(stack.media.root.rglob("*.png"))
        stored.unlink()
        workers.start()
        failed = await fake.wait_for_message(lambda m: "clip failed" in m.content, timeout=60)
    assert "input image is missing" in failed.content
    assert results_for_bot(fake) == []
