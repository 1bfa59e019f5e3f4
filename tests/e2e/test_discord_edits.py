"""Editing a clip through the fake Discord: ✏️ Modify, ↔ Expand, /add and /swap queue a child clip
in mode "edit" for whoever asked; every bad ask is a private answer with nothing queued.

Fake Discord ↔ unmodified discord.py bot ↔ real Redis ↔ SQLite gallery. The parent is a
finished clip written into the gallery as a worker would leave it, its result posted with the
bot's own result view; no worker runs, so each test looks at the queued child's spec (what a
worker would be asked to render). The bot's model here edits (tiny, with mode "edit"), so edits
are sized for it.
"""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from bot.app import ReelBot
from bot.delivery.views import result_view
from cli.local_redis import LocalRedis
from core.capabilities import capabilities_for
from core.edits import expand_canvas
from core.fairshare import queue_of
from core.spec import RenderSpec
from gallery.community import CommunityStore
from gallery.models import GenerationCreate, Moderation
from intake.submit import new_generation_id
from jobs.keys import SCHED_JOB_PREFIX, sched_job_key
from jobs.liveness import Liveness
from tests.fakediscord import FakeDiscord, Message
from tests.harness.members import labels, user_id
from tests.harness.stack import PUBLIC_URL, Stack
from tests.harness.waiting import eventually

pytestmark = [pytest.mark.slow, pytest.mark.timeout(60)]

TINY = capabilities_for("tiny")
EDITING = TINY.model_copy(update={"modes": (*TINY.modes, "edit")})


@pytest.fixture
async def stack(redis_server: LocalRedis, redis: object, data_dir: Path) -> AsyncIterator[Stack]:
    s = Stack(redis_server.url, data_dir, capabilities=EDITING)
    yield s
    await s.close()


def png(width: int = 96, height: int = 96) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 40, 40)).save(out, format="PNG")
    return out.getvalue()


def finished_clip(stack: Stack, owner: str, **row: Any) -> str:
    """A 16:9 clip as a worker leaves it: done, its MP4 in the store; `row` changes columns
    (hidden, moderation, status) as a moderator or an unfinished render would."""
    gid = new_generation_id()
    spec = RenderSpec(
        prompt="a red car on a coast road",
        aspect_ratio="16:9",
        width=TINY.snap_size(16, 9)[0],
        height=TINY.snap_size(16, 9)[1],
        num_frames=24,
        fps=24,
        steps=2,
        seed=5,
        backend="tiny",
        owner_id=owner,
    )
    stack.store.add_generation(GenerationCreate.from_spec(gid, spec.model_dump(mode="json")))
    media = f"{gid[:2]}/{gid}.mp4"
    if row.pop("status", "done") == "done":
        stack.store.mark_done(gid, media_path=media, size_bytes=1000, timings={})
    if "moderation" in row:
        stack.store.set_moderation(gid, row.pop("moderation"))
    if row:
        stack.store._update(gid, **row)
    return gid


async def tiny_worker_beat(redis: Any) -> None:
    """A live worker of the tiny family, as its heartbeat announces it (no "edit" mode)."""
    worker = Liveness(
        redis,
        "tiny-0",
        interval_s=1,
        lease_s=15,
        queue=queue_of("fast", "tiny"),
        family="tiny",
        modes=TINY.all_modes,
    )
    await worker.beat()


async def posted_result(bot: ReelBot, fake: FakeDiscord, gid: str) -> Message:
    """The clip's result message with the buttons the bot puts under every result."""
    channel = bot.get_partial_messageable(fake.channel.id)
    sent = await channel.send(
        f"your clip is ready {PUBLIC_URL}/clips/{gid}", view=result_view(gid, bot.deliverer.modes)
    )
    return await fake.wait_for_message(lambda m: m.id == sent.id)


def said(edit: dict[str, Any]) -> dict[str, Any]:
    """An edit as stored, without what it leaves unsaid."""
    return {key: value for key, value in edit.items() if value not in (None, "")}


async def the_child(stack: Stack, parent_id: str) -> tuple[Any, dict[str, Any]]:
    """The one edit of `parent_id` in the gallery, and its spec."""
    community = CommunityStore(stack.engine)
    [child] = await eventually(lambda: community.children(parent_id), lambda c: len(c) == 1)
    row = stack.store.get(child.id)
    assert row is not None
    return row, row.spec


async def test_modify_with_where_queues_an_edit_of_the_clip_for_whoever_asked(stack) -> None:
    async with FakeDiscord() as fake:
        bot = await stack.new_bot()
        async with fake.running(bot):
            gid = finished_clip(stack, user_id(fake, "alice"))
            result = await posted_result(bot, fake, gid)
            assert "Modify" in labels(result)

            ix = await fake.click_button(result, label="Modify", user="bob")
            modal = await ix.wait_modal()  # the first and only answer to the click
            sent = await fake.submit_modal(
                modal["custom_id"], {"what": "make it snow", "where": "the sky"}, user="bob"
            )
            queued = await sent.wait_reply()
            assert not queued.ephemeral and "make it snow" in queued.content

            row, spec = await the_child(stack, gid)
            assert (row.parent_id, row.owner_id) == (gid, user_id(fake, "bob"))
            assert spec["mode"] == "edit" and spec["prompt"] == "make it snow"
            assert spec["input_media"] == [f"{gid[:2]}/{gid}.mp4"]
            assert said(spec["edit"]) == {"kind": "modify", "where": "the sky"}
            assert (spec["num_frames"], spec["fps"]) == (24, 24)
            assert await bot.queue.exists(sched_job_key(row.id))  # in the fair queue


async def test_modify_in_a_named_region_and_expand_to_9_16(stack) -> None:
    async with FakeDiscord() as fake:
        bot = await stack.new_bot()
        async with fake.running(bot):
            gid = finished_clip(stack, user_id(fake, "alice"))
            result = await posted_result(bot, fake, gid)

            ix = await fake.select(result, f"reelbot:expand:{gid}", ["9:16"], user="alice")
            queued = await ix.wait_reply()
            assert not queued.ephemeral
            _row, spec = await the_child(stack, gid)
            parent = stack.store.get(gid)
            canvas = expand_canvas(
                parent.width,
                parent.height,
                expand_to="9:16",
                native_pixels=EDITING.native_pixels,
                multiple=EDITING.size_multiple,
            )
            assert (spec["width"], spec["height"]) == (canvas.width, canvas.height)
            assert spec["width"] < spec["height"] and spec["aspect_ratio"] == "9:16"
            assert said(spec["edit"]) == {"kind": "expand", "expand_to": "9:16"}
            assert spec["prompt"] == "a red car on a coast road"  # the borders follow the clip

            other = finished_clip(stack, user_id(fake, "alice"))
            result = await posted_result(bot, fake, other)
            ix = await fake.click_button(result, label="Modify", user="bob")
            modal = await ix.wait_modal()
            sent = await fake.submit_modal(
                modal["custom_id"], {"what": "a rainbow", "where": "top"}, user="bob"
            )
            assert not (await sent.wait_reply()).ephemeral
            _row, spec = await the_child(stack, other)
            assert said(spec["edit"])["box"] == {"x": 0.0, "y": 0.0, "w": 100.0, "h": 50.0}


async def test_add_a_picture_and_swap_by_words(stack) -> None:
    bot = await stack.new_bot()
    async with FakeDiscord() as fake, fake.running(bot):
        gid = finished_clip(stack, user_id(fake, "alice"))
        picture = fake.upload("cat.png", png(), width=96, height=96)
        ix = await fake.slash_command(
            "add",
            {"clip": f"{PUBLIC_URL}/clips/{gid}", "image": picture, "prompt": "on the hood"},
            user="bob",
        )
        queued = await ix.wait_reply()
        assert not queued.ephemeral and "on the hood" in queued.content
        row, spec = await the_child(stack, gid)
        assert said(spec["edit"]) == {"kind": "add"} and spec["prompt"] == "on the hood"
        media, kept = spec["input_media"]
        assert media == f"{gid[:2]}/{gid}.mp4" and kept == f"{row.id[:2]}/{row.id}.png"
        with Image.open(stack.media.resolve(kept)) as stored:
            assert stored.size == (96, 96)

        other = finished_clip(stack, user_id(fake, "alice"))
        result = await posted_result(bot, fake, other)
        stack.store.set_discord_message(other, result.id)
        link = f"https://discord.com/channels/{fake.world.guild.id}/{fake.channel.id}/{result.id}"
        ix = await fake.slash_command(  # the clip named by its result message's link
            "swap", {"clip": link, "what": "the red car", "with": "a vintage bicycle"}
        )
        assert not (await ix.wait_reply()).ephemeral
        row, spec = await the_child(stack, other)
        assert row.owner_id == user_id(fake, "alice")
        assert said(spec["edit"]) == {"kind": "swap", "where": "the red car"}
        assert spec["prompt"] == "a vintage bicycle" and len(spec["input_media"]) == 1


REFUSALS = [
    ("unknown", "I can't find that clip"),
    ("elsewhere", "isn't one of this server's clips"),
    ("hidden", "only the person who made it, or a moderator"),
    ("rendering", "still rendering"),
    ("held", "waiting for a moderator's review"),
    ("bad where", "is not a box inside the frame"),
    ("same shape", "The clip is already 16:9; pick another shape"),
    ("bad picture", "PNG, JPEG, WebP or GIF"),
    ("both with", "exactly one of `with`"),
    ("blocked what", "Explicit sexual content isn't allowed here."),
    ("no editor", "No worker here can edit clips right now"),
]


@pytest.mark.parametrize("case, words", REFUSALS, ids=[case for case, _ in REFUSALS])
async def test_each_bad_edit_is_a_private_answer_and_queues_nothing(
    stack, case: str, words: str
) -> None:
    async with FakeDiscord() as fake:
        bot = await stack.new_bot()
        async with fake.running(bot):
            row = {
                "hidden": {"hidden": True},
                "rendering": {"status": "rendering"},
                "held": {"moderation": Moderation.HELD},
            }.get(case, {})
            gid = finished_clip(stack, user_id(fake, "alice"), **row)
            clip = {"unknown": new_generation_id(), "elsewhere": f"https://evil.test/clips/{gid}"}
            swap: dict[str, Any] = {
                "clip": clip.get(case, gid),
                "what": "the car",
                "with": "a bike",
            }
            if case == "same shape":
                result = await posted_result(bot, fake, gid)
                ix = await fake.select(result, f"reelbot:expand:{gid}", ["16:9"], user="bob")
            elif case == "bad picture":
                bad = fake.upload("cat.png", b"not a picture\n" * 40)
                ix = await fake.slash_command("add", {"clip": gid, "image": bad}, user="bob")
            else:
                if case == "bad where":
                    swap["what"] = "50,50,60,10"
                if case == "blocked what":  # the words naming the thing are screened too
                    swap["what"] = "xxx moaning"
                if case == "no editor":  # the fleet: one live tiny worker, which doesn't edit
                    await tiny_worker_beat(bot.queue)
                if case == "both with":
                    swap["with_image"] = fake.upload("cat.png", png(), width=96, height=96)
                ix = await fake.slash_command("swap", swap, user="bob")
            refusal = await ix.wait_reply()
            assert refusal.ephemeral and words in refusal.content

            assert CommunityStore(stack.engine).children(gid) == []
            assert [m for m in fake.messages if not m.ephemeral and "queued" in m.content] == []
            assert await bot.queue.keys(f"{SCHED_JOB_PREFIX}*") == []
