"""/restyle and /animate uploads end to end: the cheap checks first, the expensive ones apart.

A banned member or one over a cap is refused before a byte of their upload is fetched
(`bot.intake.tickets.admitted`). Videos built to take long to read are refused as too complex
(`intake.media.budget`), and they are read on the bot's own upload-check process pool
(`intake.media.checks`), never on the default executor that writes every request's gallery row: a
/create sent after six of them is answered before they are all refused.
"""

from __future__ import annotations

import io
from collections.abc import AsyncIterator

import pytest
from PIL import Image

from core.fairshare import Caps
from core.limits import Limits
from gallery.moderation import ModerationStore
from tests.fakediscord import FakeDiscord, Interaction, World
from tests.harness.crafted import CRAFTED
from tests.harness.members import user_id
from tests.harness.stack import WAN_SMALL, Stack
from tests.harness.uploads import mp4

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]


@pytest.fixture
async def stack(redis_server, redis, data_dir) -> AsyncIterator[Stack]:
    s = Stack(redis_server.url, data_dir, capabilities=WAN_SMALL)  # i2v and v2v
    yield s
    await s.close()


def fetches(fake: FakeDiscord) -> list[str]:
    return [r.path for r in fake.requests if r.path.startswith("/attachments/")]


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (320, 240), (40, 160, 90)).save(out, format="PNG")
    return out.getvalue()


async def test_six_crafted_videos_hold_up_neither_a_create_nor_each_others_refusals(
    stack,
) -> None:
    world = World.default()
    uploaders = [world.add_user(f"uploader{n}").name for n in range(6)]
    makers = list(CRAFTED.items())
    async with FakeDiscord(world) as fake, fake.running(await stack.new_bot()):
        restyles: list[Interaction] = []
        for n, member in enumerate(uploaders):
            name, make = makers[n % len(makers)]
            video = fake.upload(name, make())
            options = {"video": video, "prompt": "a watercolor painting"}
            restyles.append(await fake.slash_command("restyle", options, user=member))
        create = await fake.slash_command("create", {"prompt": "a red kite over the sea"})
        queued = await create.wait_reply(timeout=60)
        refusals = [await ix.wait_reply(timeout=60) for ix in restyles]

        assert not queued.ephemeral and "queued" in queued.content
        assert [row.prompt for row in stack.store.page_by_id()] == ["a red kite over the sea"]
        log = fake.recorder.log
        answered_at = next(i for i, e in enumerate(log) if e.message is queued)
        last_refused_at = max(i for i, e in enumerate(log) if e.message in refusals)
        assert answered_at < last_refused_at  # not queued behind the uploads
        for ix, reply in zip(restyles, refusals, strict=True):
            assert reply.ephemeral
            assert "is too complex for me to check" in reply.content
            assert "regular MP4" in reply.content
            assert [m for m in ix.messages if not (m.ephemeral or m.deleted)] == []


@pytest.mark.parametrize(
    "command, option, filename, data",
    [
        ("animate", "image", "cat.png", png()),
        ("restyle", "video", "walk.mp4", mp4(1.0)),
    ],
)
async def test_members_over_a_cap_or_banned_are_refused_before_their_upload_is_fetched(
    stack, command, option, filename, data
) -> None:
    bot = await stack.new_bot(limits=Limits(base=Caps(in_flight=1, per_day=50)))
    async with FakeDiscord() as fake, fake.running(bot):
        first = await fake.slash_command("create", {"prompt": "a quiet harbour"})
        assert "queued" in (await first.wait_reply()).content  # alice's one place is taken
        ModerationStore(stack.engine).ban(
            user_id(fake, "bob"), fake.world.guild.id, created_by="discord:1", reason="spam"
        )
        for member, words in (("alice", "You have 1 clip waiting"), ("bob", "stopped you")):
            upload = fake.upload(filename, data)
            ix = await fake.slash_command(
                command, {option: upload, "prompt": "a calm scene"}, user=member
            )
            reply = await ix.wait_reply()
            assert reply.ephemeral and words in reply.content
            assert [m for m in ix.messages if not (m.ephemeral or m.deleted)] == []
        assert fetches(fake) == []
