"""Edits end to end with a real editor: fake Discord ↔ unmodified discord.py bot ↔ real Redis ↔
a real `python -m worker` on the Wan VACE family (`builtin:tiny`, tiny random weights built in
code) ↔ SQLite gallery. The bot's own family is wan_vace, so the one worker makes the parent
(text to video) and its edit. Assertions are on what members receive: the edit is posted once
as a child owned by whoever asked, in the parent's shape and length; an expand to 9:16 comes back
in the canvas the bot sized it for; /add with a picture is posted in the parent's shape.

Not here: that pixels outside the region stay the parent's (the worker's tests show it; the
tiny model's frames are too flat to tell the two apart).
"""

from __future__ import annotations

import io
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cli.local_redis import LocalRedis
from core.capabilities import capabilities_for
from tests.fakediscord import FakeDiscord, Message
from tests.harness.members import child_clip, create, labels, user_id
from tests.harness.stack import PUBLIC_URL, Stack, clip_id
from tests.harness.video import decoded
from tests.harness.workers import WorkerProcesses, reelbot_env

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

# Sized small, in two steps, so the tiny VACE renders in seconds on a CPU.
VACE_SMALL = capabilities_for("wan_vace").model_copy(
    update={"native_pixels": 128 * 64, "default_steps": 2}
)


@pytest.fixture
async def stack(redis_server: LocalRedis, redis, data_dir: Path) -> AsyncIterator[Stack]:
    s = Stack(redis_server.url, data_dir, capabilities=VACE_SMALL)
    yield s
    await s.close()


@pytest.fixture
def vace_worker(redis_server: LocalRedis, data_dir: Path) -> Iterator[WorkerProcesses]:
    env = reelbot_env(
        redis_server.url, data_dir, REELBOT_BACKEND="wan_vace", REELBOT_MODEL="builtin:tiny"
    )
    procs = WorkerProcesses(env, data_dir.parent / "logs")
    procs.start()
    yield procs
    procs.stop_all()


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (96, 96), (200, 40, 40)).save(out, format="PNG")
    return out.getvalue()


def frames_of(message: Message) -> tuple[np.ndarray, float]:
    [data] = message.files.values()
    return decoded(data)


async def test_modify_expand_and_add_post_the_edits_as_child_clips(
    stack: Stack, vace_worker: WorkerProcesses
) -> None:
    async with FakeDiscord() as fake, fake.running(await stack.new_bot()):
        first = await create(fake, "a red car on a coast road -len 1 -seed 3")
        parent_id = clip_id(first)
        assert "Modify" in labels(first)
        parent, fps = frames_of(first)

        ix = await fake.click_button(first, label="Modify", user="bob")
        modal = await ix.wait_modal()
        sent = await fake.submit_modal(
            modal["custom_id"], {"what": "make it snow", "where": "right"}, user="bob"
        )
        queued = await sent.wait_reply()
        assert not queued.ephemeral

        row, result = await child_clip(stack, fake, parent_id)
        assert (row.parent_id, row.owner_id) == (parent_id, user_id(fake, "bob"))
        assert row.spec["mode"] == "edit" and row.backend == "wan_vace"
        edited, child_fps = frames_of(result)
        assert edited.shape == parent.shape and child_fps == fps

        # ↔ Expand to 9:16: the posted clip has the canvas the bot sized and the worker made
        ix = await fake.select(first, f"reelbot:expand:{parent_id}", ["9:16"], user="alice")
        assert not (await ix.wait_reply()).ephemeral
        row, result = await child_clip(stack, fake, parent_id, count=2)
        taller, _fps = frames_of(result)
        assert taller.shape[1:3] == (row.height, row.width) and row.width < row.height
        assert row.spec["edit"]["expand_to"] == "9:16" and len(taller) == len(parent)

        # /add a picture at the centre, by the clip's gallery link
        picture = fake.upload("hat.png", png(), width=96, height=96)
        options = {"clip": f"{PUBLIC_URL}/clips/{parent_id}", "image": picture, "where": "center"}
        ix = await fake.slash_command("add", options, user="bob")
        assert not (await ix.wait_reply()).ephemeral
        row, result = await child_clip(stack, fake, parent_id, count=3)
        added, _fps = frames_of(result)
        assert row.spec["edit"]["kind"] == "add" and len(row.spec["input_media"]) == 2
        assert added.shape == parent.shape
