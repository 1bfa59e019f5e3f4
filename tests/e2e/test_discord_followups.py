"""Extend and Upscale, end to end: fake Discord ↔ unmodified discord.py bot ↔ real Redis ↔ a real
`python -m worker` running LTX-Video (`builtin:tiny`) ↔ SQLite gallery.

A member makes a clip; its result carries Extend and Upscale (the tiny default model has neither
mode, and its results show neither: `test_discord_remix`). Clicking them queues a child clip
owned by whoever clicked, its parent recorded; the assertions are on the MP4s members receive:
an extension is longer and opens on the parent's last frames, an upscale is twice the size.

The bot sizes clips for LTX with a small native size (CI has two cores); the worker renders
whatever size the spec asks, so every path after the bot's sizing is production's.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import numpy as np
import pytest

from cli.local_redis import LocalRedis
from tests.fakediscord import FakeDiscord, Message
from tests.harness.members import child_clip, create, labels, user_id
from tests.harness.stack import LTX_SMALL, Stack, clip_id
from tests.harness.video import decoded
from tests.harness.workers import WorkerProcesses, reelbot_env

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

ALL_BUTTONS = ["Reroll", "Remix", "Vary", "Extend", "Upscale", "Loop", "Add sound", "Delete"]


@pytest.fixture
async def stack(redis_server: LocalRedis, redis, data_dir: Path) -> AsyncIterator[Stack]:
    s = Stack(redis_server.url, data_dir, capabilities=LTX_SMALL)  # the bot sizes clips for LTX
    yield s
    await s.close()


@pytest.fixture
def ltx_worker(redis_server: LocalRedis, data_dir: Path) -> Iterator[WorkerProcesses]:
    env = reelbot_env(
        redis_server.url, data_dir, REELBOT_BACKEND="ltx", REELBOT_MODEL="builtin:tiny"
    )
    procs = WorkerProcesses(env, data_dir.parent / "logs")
    procs.start()
    yield procs
    procs.stop_all()


def frames_of(message: Message) -> tuple[np.ndarray, float]:
    """The posted MP4, decoded: (frames, height, width, 3) and its frame rate."""
    [data] = message.files.values()
    return decoded(data)


def apart(a: np.ndarray, b: np.ndarray) -> float:
    """Mean absolute difference of two frames, 0-255."""
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())


async def test_extend_and_upscale_make_the_clickers_own_longer_and_larger_clips(
    stack: Stack, ltx_worker: WorkerProcesses
) -> None:
    async with FakeDiscord() as fake, fake.running(await stack.new_bot()):
        first = await create(fake, "a fox running through snow -camera pan left -len 1 -seed 7")
        parent_id = clip_id(first)
        assert labels(first) == ALL_BUTTONS
        parent, fps = frames_of(first)
        assert (len(parent), fps) == (24, 24.0)

        # Extend, by the clip's owner: a longer clip that opens on the parent's last frames.
        ix = await fake.click_button(first, label="Extend", user="alice")
        queued = await ix.wait_reply(timeout=30)
        assert not queued.ephemeral and "a fox running through snow" in queued.content
        row, result = await child_clip(stack, fake, parent_id)
        assert int(result.message_reference["message_id"]) == queued.id
        assert (row.parent_id, row.owner_id, row.status) == (
            parent_id,
            user_id(fake, "alice"),
            "done",
        )
        assert row.spec["mode"] == "extend" and row.camera is None  # the pan is in the input
        assert row.spec["input_media"] == [stack.store.get(parent_id).media_path]
        extended, fps = frames_of(result)
        assert fps == 24.0 and len(extended) == 2 * len(parent) > len(parent)
        assert extended.shape[1:] == parent.shape[1:]
        assert "-len 2" in result.content
        # It starts where the parent ended: its first frame is the first of the parent's last 9
        # (loosely: H.264 and the watermark cost ~5 levels on the tiny model's noise), far closer
        # than to the parent's start, or than its own end is (any two of these frames: ~30 apart).
        start = apart(extended[0], parent[-9])
        assert start < 12
        assert 3 * start < min(apart(extended[0], parent[0]), apart(extended[-1], parent[-9]))
        assert labels(result) == ALL_BUTTONS

        # Upscale: the same clip at twice the width and height, moving to its last frame.
        ix = await fake.click_button(first, label="Upscale", user="alice")
        await ix.wait_reply(timeout=30)
        row, result = await child_clip(stack, fake, parent_id, count=2)
        assert (row.parent_id, row.owner_id, row.spec["mode"]) == (
            parent_id,
            user_id(fake, "alice"),
            "upscale",
        )
        upscaled, fps = frames_of(result)
        assert upscaled.shape == (len(parent), 2 * parent.shape[1], 2 * parent.shape[2], 3)
        assert (row.width, row.height) == (2 * parent.shape[2], 2 * parent.shape[1])
        assert apart(upscaled[-1], upscaled[-2]) > 2  # not frozen at the end

        # Extend by someone else: their own clip (as Reroll), the parent still the parent.
        ix = await fake.click_button(first, label="Extend", user="bob")
        queued = await ix.wait_reply(timeout=30)
        assert f"<@{fake.users['bob'].id}> queued" in queued.content
        row, result = await child_clip(stack, fake, parent_id, count=3)
        assert (row.parent_id, row.owner_id) == (parent_id, user_id(fake, "bob"))
        assert f"<@{fake.users['bob'].id}>" in result.content
        theirs, _ = frames_of(result)
        assert len(theirs) == 2 * len(parent) and apart(theirs[0], parent[-9]) < 12
