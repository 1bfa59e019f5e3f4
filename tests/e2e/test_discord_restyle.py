"""/restyle end to end: a member uploads a video, the fake Discord serves it to an unmodified
discord.py bot, which reads its headers and stores it; a real worker process running the `wan`
backend at `builtin:tiny` restyles it with diffusers' WanVideoToVideoPipeline.

Assertions are on what members see: the queued message saying how the video was framed and how
long the clip is, the clip posted once as an MP4 as long as the video, a private error for a
bad attachment with nothing queued or stored, the worker's plain words for a video whose
headers pass but whose frames don't decode, and a clear refusal on a model that can't restyle.
"""

from __future__ import annotations

import io
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from PIL import Image

from tests.fakediscord import FakeDiscord
from tests.harness.fleet import DEFAULT_QUEUE
from tests.harness.stack import PUBLIC_URL, WAN_SMALL, Stack, probe, results_for_bot
from tests.harness.uploads import mp4
from tests.harness.waiting import eventually
from tests.harness.workers import WorkerProcesses, reelbot_env

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]


@pytest.fixture
async def stack(redis_server, redis, data_dir) -> AsyncIterator[Stack]:
    s = Stack(redis_server.url, data_dir, capabilities=WAN_SMALL)
    yield s
    await s.close()


@pytest.fixture
def wan_workers(redis_server, data_dir: Path) -> Iterator[WorkerProcesses]:
    env = reelbot_env(
        redis_server.url,
        data_dir,
        REELBOT_BACKEND="wan",
        REELBOT_MODEL="builtin:tiny",
        REELBOT_DEVICE="cpu",
    )
    procs = WorkerProcesses(env, data_dir.parent / "logs")
    yield procs
    procs.stop_all()


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (320, 200), (200, 40, 40)).save(out, format="PNG")
    return out.getvalue()


def fetches(fake: FakeDiscord) -> list[str]:
    return [r.path for r in fake.requests if r.path.startswith("/attachments/")]


async def test_restyle_posts_a_clip_as_long_as_the_video(stack, wan_workers) -> None:
    wan_workers.start()
    upload = mp4(1.5)
    # headers any container reader accepts, frames no decoder knows: only the worker can tell
    undecodable = mp4(1.5, fmt="webm").replace(b"V_VP9", b"V_XY9")
    async with FakeDiscord() as fake, fake.running(await stack.new_bot()):
        video = fake.upload("holiday.mp4", upload, content_type="video/mp4")
        ix = await fake.slash_command(
            "restyle", {"video": video, "prompt": "a watercolor painting -seed 5"}, user="bob"
        )
        queued = await ix.wait_reply()
        assert not queued.ephemeral
        assert "queued" in queued.content and "a watercolor painting" in queued.content
        assert "Aspect ratio 3:2, as your 96×64 video" in queued.content
        assert "1.5 s at 24 fps" in queued.content

        broken = fake.upload("broken.webm", undecodable, content_type="video/webm")
        ix2 = await fake.slash_command("restyle", {"video": broken, "prompt": "claymation"})
        assert "queued" in (await ix2.wait_reply()).content

        result = await fake.wait_for_message(
            lambda m: "your clip is ready" in m.content, timeout=80
        )
        assert result.message_reference
        assert int(result.message_reference["message_id"]) == queued.id
        assert f"<@{fake.users['bob'].id}>" in result.content
        assert "`/restyle a watercolor painting" in result.content
        assert "-seed 5" in result.content
        [(name, data)] = result.files.items()
        assert name.endswith(".mp4")
        assert probe(data) == (96, 64, 36, 24.0)  # the video's shape and length

        failed = await fake.wait_for_message(lambda m: "clip failed" in m.content, timeout=60)
        assert "couldn't be decoded" in failed.content and "H.264 MP4" in failed.content

        gid = result.content.split(f"{PUBLIC_URL}/clips/")[1].split()[0]
        row = await eventually(lambda: stack.store.get(gid), lambda r: r.discord_message_id)
        assert row.status == "done" and results_for_bot(fake) == [result]
        assert row.spec["mode"] == "v2v"
        # the member's video is kept under the generation's id, next to (not over) the clip
        [stored] = row.spec["input_media"]
        assert stored == f"{gid[:2]}/{gid}.input.mp4"
        assert stack.media.resolve(stored).read_bytes() == upload


async def test_a_long_video_is_cut_to_the_models_limit_and_the_member_is_told(stack) -> None:
    async with FakeDiscord() as fake, fake.running(await stack.new_bot()):
        video = fake.upload("concert.mp4", mp4(6.0))
        ix = await fake.slash_command("restyle", {"video": video, "prompt": "neon noir"})
        queued = await ix.wait_reply()
    assert not queued.ephemeral
    assert "5 s at 24 fps" in queued.content
    assert "Your video is 6.0 s long; this model restyles at most 5 s" in queued.content


BIG = 26 * 1024 * 1024


@pytest.mark.parametrize(
    "filename, data, words",
    [
        (
            "clip.mp4",
            png(),  # a real picture, renamed
            ["clip.mp4", "a PNG picture", "MP4, MOV, WebM or MKV", "25 MB", "/animate"],
        ),
        ("huge.mp4", b"\x00" * BIG, ["huge.mp4", "26.0 MB", "videos for /restyle", "25.0 MB"]),
    ],
)
async def test_a_bad_attachment_gets_a_private_error_and_queues_nothing(
    stack, redis, filename, data, words
) -> None:
    async with FakeDiscord() as fake, fake.running(await stack.new_bot()):
        bad = fake.upload(filename, data, content_type="video/mp4")
        ix = await fake.slash_command("restyle", {"video": bad, "prompt": "a watercolor"})
        reply = await ix.wait_reply()
        assert reply.ephemeral
        for word in words:
            assert word in reply.content
        assert await redis.zcard(DEFAULT_QUEUE) == 0
        assert [m for m in fake.visible_messages() if not m.ephemeral] == []
        if len(data) == BIG:
            assert fetches(fake) == []  # refused from its declared size alone
    assert not stack.media.root.exists() or not any(stack.media.root.rglob("*.input.*"))


async def test_camera_moves_are_refused_before_the_video_is_fetched(stack, redis) -> None:
    async with FakeDiscord() as fake, fake.running(await stack.new_bot()):
        video = fake.upload("a.mp4", mp4(1.0))
        ix = await fake.slash_command(
            "restyle", {"video": video, "prompt": "claymation -camera zoom in"}
        )
        reply = await ix.wait_reply()
        assert reply.ephemeral and "-camera" in reply.content
        assert "own camera and motion" in reply.content
        assert fetches(fake) == [] and await redis.zcard(DEFAULT_QUEUE) == 0


async def test_a_model_that_cannot_restyle_says_so(redis_server, redis, data_dir) -> None:
    stack = Stack(redis_server.url, data_dir)  # the tiny backend: text-to-video only
    try:
        async with FakeDiscord() as fake, fake.running(await stack.new_bot()):
            video = fake.upload("a.mp4", mp4(1.0))
            ix = await fake.slash_command("restyle", {"video": video, "prompt": "claymation"})
            reply = await ix.wait_reply()
            assert reply.ephemeral
            assert "can't restyle videos" in reply.content and "/create" in reply.content
            assert fetches(fake) == [] and await redis.zcard(DEFAULT_QUEUE) == 0
    finally:
        await stack.close()
