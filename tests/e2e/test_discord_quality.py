"""The fast tier in Discord, end to end: fake Discord ↔ unmodified discord.py bot ↔ real Redis ↔
real worker process ↔ SQLite gallery, on a server whose REELBOT_DEFAULT_QUALITY is fast.

What members see: the `quality` option of /create, the caption saying which quality made the
clip and a command line that names it, and a Remix form that keeps it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from core.capabilities import capabilities_for
from tests.fakediscord import FakeDiscord, Message
from tests.fakediscord.records import walk_components
from tests.harness.members import READY
from tests.harness.stack import clip_id
from tests.harness.workers import WorkerProcesses

pytestmark = [pytest.mark.slow, pytest.mark.timeout(150)]

TINY = capabilities_for("tiny")


@pytest.fixture
def data_dir(module_worker: WorkerProcesses) -> Path:
    return module_worker.data_dir


async def made(fake: FakeDiscord, options: dict[str, object]) -> Message:
    ix = await fake.slash_command("create", options, user="alice")
    queued = await ix.wait_reply()
    assert not queued.ephemeral, queued.content
    return await fake.wait_for_message(
        lambda m: READY in m.content and int(m.message_reference["message_id"]) == queued.id,
        timeout=60,
    )


async def test_on_a_fast_server_the_quality_option_and_every_line_name_the_quality(
    stack,
) -> None:
    assert TINY.fast is not None
    async with FakeDiscord() as fake, fake.running(await stack.new_bot(default_quality="fast")):
        plain = await made(fake, {"prompt": "a fox in the snow -seed 3"})
        assert "· fast" in plain.content and "-fast -seed 3" in plain.content
        assert stack.store.get(clip_id(plain)).spec["steps"] == TINY.fast.steps

        hq = await made(fake, {"prompt": "a fox in the snow -seed 3", "quality": "hq"})
        assert "· hq" in hq.content and "-hq -seed 3`" in hq.content
        row = stack.store.get(clip_id(hq))
        assert (row.spec["quality"], row.spec["steps"]) == ("hq", TINY.default_steps)

        ix = await fake.click_button(hq, label="Remix", user="bob")
        modal = await ix.wait_modal()
        [text_input] = [c for c in walk_components(modal["components"]) if c["type"] == 4]
        assert text_input["value"] == "a fox in the snow -hq -seed 3"


async def test_a_quality_option_against_the_prompts_switch_is_refused_privately(stack) -> None:
    async with FakeDiscord() as fake, fake.running(await stack.new_bot()):
        ix = await fake.slash_command(
            "create", {"prompt": "a fox -fast", "quality": "hq"}, user="alice"
        )
        reply = await ix.wait_reply()
        assert reply.ephemeral
        assert "`-fast`" in reply.content and "`quality` option says `hq`" in reply.content
