"""`/frames` (keyframes) end to end: fake Discord ↔ unmodified discord.py bot ↔ real Redis ↔ a
real `python -m worker` on the tiny model ↔ SQLite gallery.

Measured in the MP4 the member is sent: each picture's frame (picture k of K at output frame
round(k·(M−1)/(K−1))) is closest, by PSNR, to its own picture among the three. The tiny model's
random weights never draw a picture, so what puts it there is the conditioning path's pixel hold
(`worker.backends.frames`); which conditions the pipeline gets is tests/worker/test_frames.py.
"""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageOps

from cli.local_redis import LocalRedis
from core.capabilities import capabilities_for
from core.frames import frame_indices
from tests.e2e.test_discord_loop import fetches, frames_of
from tests.fakediscord import FakeDiscord
from tests.harness.fleet import DEFAULT_QUEUE
from tests.harness.members import child_clip, labels
from tests.harness.stack import Stack, clip_id, results_for_bot
from tests.harness.video import psnr
from tests.harness.waiting import eventually

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

SAME = 24.0  # dB: a held picture after H.264 (sharp stripes come back at about 27)


def picture(width: int, height: int, k: int) -> bytes:
    """Three very different pictures: red|blue halves, a green gradient, yellow stripes."""
    pixels = np.zeros((height, width, 3), np.uint8)
    if k == 0:
        pixels[:, : width // 2], pixels[:, width // 2 :] = (230, 40, 40), (40, 40, 230)
    elif k == 1:
        pixels[..., 0] = np.linspace(0, 255, height, dtype=np.uint8)[:, None]
        pixels[..., 1] = 220
    else:
        pixels[:, :] = (250, 230, 30)
        pixels[::16] = (20, 20, 20)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="PNG")
    return out.getvalue()


async def test_frames_passes_through_each_picture_in_order(stack: Stack, workers) -> None:
    workers.start()
    sizes = [(640, 360), (400, 400), (320, 240)]
    data = [picture(w, h, k) for k, (w, h) in enumerate(sizes)]
    async with FakeDiscord() as fake, fake.running(await stack.new_bot()):
        uploads = {
            f"image{k + 1}": fake.upload(f"p{k}.png", d, width=w, height=h)
            for k, (d, (w, h)) in enumerate(zip(data, sizes, strict=True))
        }
        ix = await fake.slash_command(
            "frames", {**uploads, "prompt": "dawn | noon -seed 4"}, user="bob"
        )
        queued = await ix.wait_reply()
        assert not queued.ephemeral and "passes through your 3 pictures" in queued.content
        assert "Aspect ratio 16:9" in queued.content
        assert len(fetches(fake)) == 3

        result = await fake.wait_for_message(
            lambda m: "your clip is ready" in m.content, timeout=90
        )
        assert "`/frames dawn | noon -len 2 -seed 4`" in result.content
        frames = frames_of(result)
        height, width = frames.shape[1:3]
        fitted = [
            np.asarray(ImageOps.fit(Image.open(io.BytesIO(d)).convert("RGB"), (width, height)))
            for d in data
        ]
        for k, index in enumerate(frame_indices(3, len(frames))):
            scores = [psnr(frames[index], f) for f in fitted]
            assert scores[k] == max(scores) and scores[k] > SAME, (k, index, scores)
            assert scores[k] > sorted(scores)[-2] + 10

        gid = clip_id(result)
        row = await eventually(lambda: stack.store.get(gid), lambda r: r.discord_message_id)
        assert row.spec["mode"] == "frames" and row.spec["prompt"] == "dawn | noon"
        assert row.spec["input_media"] == [f"{gid[:2]}/{gid}.k{k}.png" for k in range(3)]
        assert results_for_bot(fake) == [result]

        # Reroll keeps the pictures and the prompt's parts: a child through the same pictures
        assert "Reroll" in labels(result)
        ix = await fake.click_button(result, label="Reroll", user="bob")
        await ix.wait_reply(timeout=30)
        child, again = await child_clip(stack, fake, gid)
        assert child.spec["mode"] == "frames" and child.spec["prompt"] == "dawn | noon"
        assert child.spec["input_media"] == row.spec["input_media"]
        assert child.spec["seed"] != 4 and "`/frames dawn | noon" in again.content


async def test_frames_refusals_are_private_and_come_before_any_download(
    stack: Stack, redis
) -> None:
    async with FakeDiscord() as fake, fake.running(await stack.new_bot()):
        a, b, c = (fake.upload(f"p{k}.png", picture(320, 240, k)) for k in range(3))
        # one picture: image2 is a required option, so Discord itself won't send the command
        with pytest.raises(ValueError, match="required option 'image2' is missing"):
            await fake.slash_command("frames", {"image1": a, "prompt": "dawn"})
        cases = [
            (
                {"image1": a, "image2": b, "image3": c, "prompt": "dawn | noon | dusk"},
                "3 parts split by `|` for 3 pictures. Give 2",
            ),
            ({"image1": a, "image2": b, "prompt": "dawn | noon"}, "for 2 pictures. Give 1"),
            ({"image1": a, "image2": b, "prompt": "dawn -loop"}, "`-loop` can't be used"),
            # the policy reads every segment: a blocked one refuses the clip
            (
                {"image1": a, "image2": b, "image3": c, "prompt": "a sunny beach | a l0li"},
                "can't make this clip",
            ),
        ]
        for options, said in cases:
            ix = await fake.slash_command("frames", options)
            reply = await ix.wait_reply()
            assert reply.ephemeral and said in reply.content, reply.content
        assert fetches(fake) == []
        assert await redis.zcard(DEFAULT_QUEUE) == 0
        assert [m for m in fake.visible_messages() if not m.ephemeral] == []


@pytest.fixture
async def no_frames(redis_server: LocalRedis, redis, data_dir: Path) -> AsyncIterator[Stack]:
    """A bot serving Wan, which has no keyframes."""
    s = Stack(redis_server.url, data_dir, capabilities=capabilities_for("wan"))
    yield s
    await s.close()


async def test_a_model_without_keyframes_refuses_naming_those_that_have_them(
    no_frames: Stack, redis
) -> None:
    async with FakeDiscord() as fake, fake.running(await no_frames.new_bot()):
        a, b = (fake.upload(f"p{k}.png", picture(320, 240, k)) for k in range(2))
        ix = await fake.slash_command("frames", {"image1": a, "image2": b, "prompt": "dawn"})
        reply = await ix.wait_reply()
        assert reply.ephemeral and "can't pass a clip through several pictures" in reply.content
        assert "ltx, tiny" in reply.content
        assert fetches(fake) == []
        assert await redis.zcard(DEFAULT_QUEUE) == 0
