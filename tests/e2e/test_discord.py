"""/create end to end: fake Discord ↔ unmodified discord.py bot ↔ real Redis ↔ real worker process.

Assertions are on what members would see in the channel: the queued message, its progress
edits, the result posted once with a playable MP4, and the errors they get for bad input.
"""

from __future__ import annotations

import aiohttp
import pytest

from bot.app import DISCORD_CONNECTIONS
from bot.delivery import consumer as delivery_module
from bot.delivery.consumer import GROUP
from jobs.keys import RESULT_STREAM
from tests.fakediscord import FakeDiscord, Overwrite
from tests.fakediscord.world import ATTACH_FILES
from tests.harness.fleet import DEFAULT_QUEUE
from tests.harness.stack import PUBLIC_URL, probe, results_for_bot
from tests.harness.waiting import eventually

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]


async def test_create_queues_then_posts_the_clip_once(stack, workers, redis) -> None:
    workers.start()
    bot = await stack.new_bot()
    async with FakeDiscord() as fake, fake.running(bot):
        # answers to Discord share a bounded pool of connections (discord.py's is unbounded)
        assert bot.http.connector.limit_per_host == DISCORD_CONNECTIONS
        ix = await fake.slash_command(
            "create",
            {"prompt": "a fox running through snow -camera pan left -ar 9:16 -seed 7", "motion": 3},
            user="alice",
        )
        queued = await ix.wait_reply()
        assert not queued.ephemeral
        # answered in time without a "thinking…" first: one call to Discord, not a defer + edit
        assert (await ix.wait_response()).name == "message"
        assert "queued" in queued.content and "a fox running through snow" in queued.content
        assert "seed 7" in queued.content

        result = await fake.wait_for_message(
            lambda m: "your clip is ready" in m.content, timeout=60
        )
        assert result.message_reference and int(result.message_reference["message_id"]) == queued.id
        assert f"<@{fake.users['alice'].id}>" in result.content
        assert "-motion 3" in result.content and "-camera pan left" in result.content
        [(name, data)] = result.files.items()
        assert name.endswith(".mp4")
        width, height, frames, fps = probe(data)
        assert (width, height, frames, fps) == (288, 512, 48, 24.0)

        gid = result.content.split(f"{PUBLIC_URL}/clips/")[1].split()[0]
        # The message id is recorded right after the post (and before the stream ack).
        row = await eventually(lambda: stack.store.get(gid), lambda r: r.discord_message_id)
        assert row.status == "done" and row.discord_message_id == result.id
        assert row.owner_id == f"discord:{fake.users['alice'].id}"
        assert results_for_bot(fake) == [result]


@pytest.mark.parametrize(
    "options, mentions",
    [
        ({"prompt": "a windmill -motion 9"}, ["-motion 9", "0 to 4"]),
        ({"prompt": "a windmill -camrea zoom in"}, ["-camrea", "-camera"]),
        ({"prompt": "a windmill -motion 2", "motion": 3}, ["-motion 2", "motion", "3"]),
        ({"prompt": "-ar 9:16"}, ["Describe the clip"]),
    ],
)
async def test_bad_requests_get_a_private_error_and_queue_nothing(
    stack, redis, options, mentions
) -> None:
    async with FakeDiscord() as fake, fake.running(await stack.new_bot()):
        ix = await fake.slash_command("create", options)
        reply = await ix.wait_reply()
        assert reply.ephemeral
        for word in mentions:
            assert word in reply.content
        assert await redis.zcard(DEFAULT_QUEUE) == 0
        assert [m for m in fake.visible_messages() if not m.ephemeral] == []


async def test_clips_finished_while_the_bot_was_down_are_posted_when_it_returns(
    stack, workers, redis
) -> None:
    async with FakeDiscord() as fake:
        async with fake.running(await stack.new_bot()):
            for seed in (1, 2):
                ix = await fake.slash_command("create", {"prompt": f"a lighthouse -seed {seed}"})
                await ix.wait_reply()
        # The bot is gone; the worker starts only now and finishes both clips meanwhile.
        workers.start()
        await eventually(lambda: redis.xlen(RESULT_STREAM), lambda n: n == 2, timeout=60)
        assert results_for_bot(fake) == []

        async with fake.running(await stack.new_bot()):
            await fake.wait_for(lambda e: len(results_for_bot(fake)) == 2, timeout=30)
        posted = results_for_bot(fake)
        assert sorted("-seed 1" in m.content for m in posted) == [False, True]
        assert all(m.files for m in posted)


async def test_a_lost_post_response_does_not_post_twice(stack, workers) -> None:
    """Discord made the message but the reply was lost: the retry reuses the nonce."""
    workers.start()
    async with FakeDiscord() as fake, fake.running(await stack.new_bot()):
        fake.fail_next("POST", "/channels/{channel_id}/messages", status=500, apply=True)
        ix = await fake.slash_command("create", {"prompt": "a paper boat -seed 5"})
        await ix.wait_reply()
        await fake.wait_for(lambda e: len(results_for_bot(fake)) >= 1, timeout=60)
        await fake.wait_for(lambda e: e.kind == "dedup", timeout=30)
        assert len(results_for_bot(fake)) == 1


async def test_a_clip_over_the_upload_cap_is_posted_compressed_to_fit(stack, workers) -> None:
    workers.start()
    async with (
        FakeDiscord(attachment_size_limit=60_000) as fake,
        fake.running(await stack.new_bot()),
    ):
        ix = await fake.slash_command("create", {"prompt": "a neon city at night -seed 3"})
        await ix.wait_reply()
        result = await fake.wait_for_message(
            lambda m: "your clip is ready" in m.content, timeout=60
        )
    [(name, data)] = result.files.items()
    assert name.endswith(".mp4") and len(data) <= 60_000
    assert probe(data) == (512, 288, 48, 24.0)
    assert "Compressed" in result.content and f"{PUBLIC_URL}/clips/" in result.content


async def test_a_clip_that_cannot_fit_the_cap_becomes_a_gallery_link(stack, workers) -> None:
    workers.start()
    async with (
        FakeDiscord(attachment_size_limit=20_000) as fake,
        fake.running(await stack.new_bot()),
    ):
        ix = await fake.slash_command("create", {"prompt": "a neon city at night -seed 3"})
        await ix.wait_reply()
        result = await fake.wait_for_message(
            lambda m: "your clip is ready" in m.content, timeout=60
        )
    assert all(name.endswith(".jpg") and len(data) <= 20_000 for name, data in result.files.items())
    assert "upload limit" in result.content and f"{PUBLIC_URL}/clips/" in result.content


async def test_a_channel_where_clips_cannot_be_posted_is_refused_up_front(stack, redis) -> None:
    async with FakeDiscord() as fake, fake.running(await stack.new_bot()):
        no_files = fake.world.add_channel(
            "no-files", overwrites=[Overwrite(fake.world.guild.id, 0, deny=ATTACH_FILES)]
        )
        ix = await fake.slash_command("create", {"prompt": "a fox -seed 1"}, channel=no_files)
        reply = await ix.wait_reply()
    assert reply.ephemeral and "Attach Files" in reply.content
    assert await redis.zcard(DEFAULT_QUEUE) == 0


@pytest.mark.parametrize(
    "blip",
    [ConnectionResetError(104, "Connection reset by peer"), aiohttp.ServerDisconnectedError()],
    ids=["reset", "disconnected"],
)
async def test_a_failed_delivery_is_retried_soon_and_never_holds_up_the_next_clip(
    stack, workers, redis, monkeypatch, blip: Exception
) -> None:
    """A blip while posting leaves the record pending to the bot itself, where reading new
    records never finds it: it is read again a retry delay later (not after XAUTOCLAIM's 60 s),
    and one whose delivery keeps failing stays pending without stopping the clips behind it."""
    monkeypatch.setattr("bot.delivery.consumer.RETRY_DELAY_S", 0.2)
    real_load_target = delivery_module.load_target
    failed: dict[str, int] = {}  # the first clip to finish always fails, the second once

    async def flaky(redis: object, gid: str) -> object:
        failed.setdefault(gid, 0)
        if gid == next(iter(failed)) or failed[gid] == 0:
            failed[gid] += 1
            raise blip
        return await real_load_target(redis, gid)

    monkeypatch.setattr(delivery_module, "load_target", flaky)
    workers.start()
    async with FakeDiscord() as fake, fake.running(await stack.new_bot()):
        for prompt in ("a lighthouse -seed 8", "a lighthouse -seed 9"):
            await (await fake.slash_command("create", {"prompt": prompt})).wait_reply()
        # both rendered, and each delivery failed once
        await eventually(lambda: failed, lambda f: len(f) >= 2, timeout=90)
        result = await fake.wait_for_message(  # well inside the 60 s before XAUTOCLAIM
            lambda m: "your clip is ready" in m.content, timeout=30
        )
        # the posted one acked, the stuck one left pending
        await eventually(
            lambda: redis.xpending(RESULT_STREAM, GROUP), lambda p: p["pending"] == 1, timeout=30
        )
        stuck = next(iter(failed))  # whichever finished first (they may render side by side)
        assert failed[stuck] >= 2  # retried, and still failing
    assert stuck not in result.content and result.files  # the other clip, posted
    assert [m for m in fake.messages if stuck in m.content] == []


async def test_a_poisoned_result_record_does_not_stop_delivery(
    stack, workers, redis, monkeypatch
) -> None:
    # Abandoned records are reclaimed at once, so a poison one would come back every loop.
    monkeypatch.setattr("bot.delivery.consumer.CLAIM_IDLE_MS", 0)
    await redis.xadd(RESULT_STREAM, {"r": b"not json"})
    await redis.xadd(RESULT_STREAM, {"junk": b"1"})
    workers.start()
    async with FakeDiscord() as fake, fake.running(await stack.new_bot()):
        ix = await fake.slash_command("create", {"prompt": "a lighthouse -seed 8"})
        await ix.wait_reply()
        result = await fake.wait_for_message(
            lambda m: "your clip is ready" in m.content, timeout=60
        )
    assert result.files
