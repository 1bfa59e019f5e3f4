"""`-loop`, 🔁 Loop and /animate's end picture end to end: fake Discord ↔ unmodified discord.py
bot ↔ real Redis ↔ a real `python -m worker` on the tiny model ↔ SQLite gallery.

What members get is measured in the MP4 they are sent: a loop's last frame is its first (PSNR
between them far above the same clip unlooped: the tiny model's frames are coloured noise, which
H.264 keeps only roughly, so "the same" is about 27 dB and two different frames about 17 dB), and
an end picture is the clip's last frame (the picture fitted to the clip, above 30 dB).
"""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest
from aiohttp.test_utils import TestClient, TestServer
from PIL import Image, ImageOps

from cli.local_redis import LocalRedis
from core.capabilities import capabilities_for
from gallery.web import create_app
from tests.fakediscord import FakeDiscord, Message
from tests.harness.fleet import DEFAULT_QUEUE
from tests.harness.members import child_clip, create, labels, user_id
from tests.harness.stack import PUBLIC_URL, Stack, clip_id, results_for_bot
from tests.harness.video import decoded, psnr
from tests.harness.waiting import eventually

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

SAME = 24.0  # dB: the tiny model's first frame against itself after H.264 is about 27
APART = 20.0  # two different frames of its noise are about 17


def picture(width: int, height: int, kind: str) -> bytes:
    """Two very different pictures: red|blue halves, or a green-to-yellow gradient."""
    pixels = np.zeros((height, width, 3), np.uint8)
    if kind == "halves":
        pixels[:, : width // 2], pixels[:, width // 2 :] = (230, 40, 40), (40, 40, 230)
    else:
        pixels[..., 0] = np.linspace(0, 255, height, dtype=np.uint8)[:, None]
        pixels[..., 1] = 220
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="PNG")
    return out.getvalue()


def frames_of(message: Message) -> np.ndarray:
    [data] = message.files.values()
    return decoded(data)[0]


def fetches(fake: FakeDiscord) -> list[str]:
    return [r.path for r in fake.requests if r.path.startswith("/attachments/")]


async def test_a_loop_ends_on_its_first_frame_and_loop_makes_any_clip_loop(
    stack: Stack, workers
) -> None:
    workers.start()
    async with FakeDiscord() as fake, fake.running(await stack.new_bot()):
        plain = await create(fake, "a paper boat on a rainy street -seed 3")
        looped = await create(fake, "a paper boat on a rainy street -loop -seed 3")
        assert "-loop -seed 3`" in looped.content
        assert "Loop" in labels(plain)

        frames = frames_of(looped)
        assert psnr(frames[0], frames[-1]) > SAME
        unlooped = frames_of(plain)
        assert psnr(unlooped[0], unlooped[-1]) < APART  # the same clip without -loop does not
        row = await eventually(lambda: stack.store.get(clip_id(looped)), lambda r: r.media_path)
        assert row.spec["loop"] is True and "loop" not in stack.store.get(clip_id(plain)).spec

        # 🔁 Loop on the plain clip, by someone else: their child, the same seed, looping
        ix = await fake.click_button(plain, label="Loop", user="bob")
        queued = await ix.wait_reply(timeout=30)
        assert not queued.ephemeral and "a paper boat on a rainy street" in queued.content
        child, result = await child_clip(stack, fake, clip_id(plain))
        assert (child.parent_id, child.owner_id) == (clip_id(plain), user_id(fake, "bob"))
        assert child.spec["loop"] is True and child.spec["seed"] == 3
        assert "-loop -seed 3`" in result.content
        frames = frames_of(result)
        assert psnr(frames[0], frames[-1]) > SAME

        # Loop on a loop says so privately and queues nothing
        ix = await fake.click_button(looped, label="Loop", user="bob")
        again = await ix.wait_reply(timeout=30)
        assert again.ephemeral and "loops already" in again.content

    # the gallery plays it as a loop and says it is one
    app = create_app(stack.store, stack.media, public_url=PUBLIC_URL)
    async with TestClient(TestServer(app)) as client:
        html = await (await client.get(f"/clips/{clip_id(looped)}")).text()
    assert '<video class="player" controls loop' in html
    assert "seamless: it ends on its first frame" in html


async def test_animate_ends_on_the_end_picture(stack: Stack, workers) -> None:
    workers.start()
    start, end = picture(640, 480, "halves"), picture(400, 400, "gradient")
    async with FakeDiscord() as fake, fake.running(await stack.new_bot()):
        first = fake.upload("start.png", start, width=640, height=480)
        last = fake.upload("sunset.png", end, width=400, height=400)
        ix = await fake.slash_command(
            "animate", {"image": first, "end_image": last, "prompt": "-seed 5"}, user="bob"
        )
        queued = await ix.wait_reply()
        assert not queued.ephemeral and "Aspect ratio 4:3" in queued.content
        assert "ends on your 400×400 end picture, center-cropped to 4:3" in queued.content
        assert len(fetches(fake)) == 2

        result = await fake.wait_for_message(
            lambda m: "your clip is ready" in m.content, timeout=60
        )
        frames = frames_of(result)
        height, width = frames.shape[1:3]
        fitted = {
            name: np.asarray(
                ImageOps.fit(Image.open(io.BytesIO(data)).convert("RGB"), (width, height))
            )
            for name, data in (("start", start), ("end", end))
        }
        assert psnr(frames[-1], fitted["end"]) > 30
        assert psnr(frames[-1], fitted["end"]) > psnr(frames[-1], fitted["start"]) + 15
        assert psnr(frames[0], fitted["end"]) < APART  # it starts elsewhere

        gid = clip_id(result)
        row = await eventually(lambda: stack.store.get(gid), lambda r: r.discord_message_id)
        assert row.spec["end_frame"] is True and row.spec["mode"] == "i2v"
        assert row.spec["input_media"] == [f"{gid[:2]}/{gid}.png", f"{gid[:2]}/{gid}.end.png"]
        with Image.open(stack.media.resolve(row.spec["input_media"][1])) as kept:
            assert (kept.format, kept.size) == ("PNG", (400, 400))
        assert results_for_bot(fake) == [result]


async def test_a_bad_end_picture_is_refused_privately_and_nothing_is_kept(
    stack: Stack, redis
) -> None:
    async with FakeDiscord() as fake, fake.running(await stack.new_bot()):
        first = fake.upload("start.png", picture(320, 240, "halves"))
        bad = fake.upload("end.png", b"not a picture at all\n" * 40, content_type="image/png")
        ix = await fake.slash_command("animate", {"image": first, "end_image": bad})
        reply = await ix.wait_reply()
        assert reply.ephemeral and "end.png" in reply.content
        assert "PNG, JPEG, WebP or GIF" in reply.content
        assert await redis.zcard(DEFAULT_QUEUE) == 0
        assert [m for m in fake.visible_messages() if not m.ephemeral] == []
    assert not stack.media.root.exists() or not any(stack.media.root.rglob("*.png"))


async def test_an_end_picture_and_loop_together_are_refused_before_any_download(
    stack: Stack, redis
) -> None:
    async with FakeDiscord() as fake, fake.running(await stack.new_bot()):
        first = fake.upload("start.png", picture(320, 240, "halves"))
        last = fake.upload("end.png", picture(320, 240, "gradient"))
        for options in ({"prompt": "-loop"}, {"loop": True}):
            ix = await fake.slash_command("animate", {"image": first, "end_image": last, **options})
            reply = await ix.wait_reply()
            assert (
                reply.ephemeral and "`-loop` and `end_image` can't both be given" in reply.content
            )
        assert fetches(fake) == []
        assert await redis.zcard(DEFAULT_QUEUE) == 0


@pytest.fixture
async def no_loops(redis_server: LocalRedis, redis, data_dir: Path) -> AsyncIterator[Stack]:
    """A bot serving LTX-2, which neither loops nor ends on a picture (here)."""
    s = Stack(redis_server.url, data_dir, capabilities=capabilities_for("ltx2"))
    yield s
    await s.close()


async def test_a_model_that_cannot_loop_refuses_naming_the_models_that_can(
    no_loops: Stack, redis
) -> None:
    async with FakeDiscord() as fake, fake.running(await no_loops.new_bot()):
        ix = await fake.slash_command("create", {"prompt": "a paper boat -loop"})
        reply = await ix.wait_reply()
        assert reply.ephemeral and "`-loop`" in reply.content
        assert "can't make a clip that loops" in reply.content and "ltx, tiny, wan" in reply.content

        ix = await fake.slash_command("create", {"prompt": "a paper boat", "loop": True})
        reply = await ix.wait_reply()
        assert reply.ephemeral and "`loop:`" in reply.content and "ltx, tiny, wan" in reply.content

        first = fake.upload("start.png", picture(320, 240, "halves"))
        last = fake.upload("end.png", picture(320, 240, "gradient"))
        ix = await fake.slash_command("animate", {"image": first, "end_image": last})
        reply = await ix.wait_reply()
        assert reply.ephemeral and "can't end a clip on a picture" in reply.content
        assert "ltx, tiny, wan" in reply.content
        assert fetches(fake) == []
        assert await redis.zcard(DEFAULT_QUEUE) == 0
