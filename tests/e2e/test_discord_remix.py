"""Buttons and reactions on results, end to end: fake Discord ↔ unmodified discord.py bot ↔ real
Redis ↔ real worker process ↔ SQLite gallery.

Members click and react; the assertions are on what they see (buttons, replies, the clips that
arrive, messages that vanish) and on the gallery rows the web gallery shows (lineage, owner,
seed, likes, deletion). One worker renders for the whole module (none of its tests stops or
configures it); the clips land in its data folder.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from core.capabilities import capabilities_for
from core.flags import to_command_line
from core.spec import RenderSpec
from gallery.community import CommunityStore
from tests.fakediscord import FakeDiscord
from tests.fakediscord.records import walk_components
from tests.harness.members import child_clip, create, labels, user_id
from tests.harness.stack import clip_id
from tests.harness.waiting import eventually
from tests.harness.workers import WorkerProcesses

pytestmark = [pytest.mark.slow, pytest.mark.timeout(150)]

REFUSED = "Only the person who made this clip, or a moderator, can delete it."


@pytest.fixture
def data_dir(module_worker: WorkerProcesses) -> Path:
    """Every test here clicks on clips that the module's one worker renders: its data folder."""
    return module_worker.data_dir


async def test_reroll_by_another_member_makes_their_own_child_clip(stack) -> None:
    async with FakeDiscord() as fake, fake.running(await stack.new_bot()):
        first = await create(fake, "a fox running through snow -camera pan left -seed 7")
        parent_id = clip_id(first)
        assert labels(first) == ["Reroll", "Remix", "Vary", "Delete"]  # tiny: no Extend/Upscale
        assert all(cid.endswith(parent_id) for cid in first.custom_ids)

        ix = await fake.click_button(first, label="Reroll", user="bob")
        queued = await ix.wait_reply()
        assert not queued.ephemeral
        assert f"<@{fake.users['bob'].id}> queued" in queued.content
        assert "a fox running through snow" in queued.content

        row, result = await child_clip(stack, fake, parent_id)
        assert int(result.message_reference["message_id"]) == queued.id
        assert f"<@{fake.users['bob'].id}>" in result.content
        assert "-camera pan left" in result.content and "-seed 7" not in result.content
        assert [name for name in result.files] == [f"reelbot-{row.seed}.mp4"]
        assert labels(result) == ["Reroll", "Remix", "Vary", "Delete"]
        assert (row.parent_id, row.owner_id) == (parent_id, user_id(fake, "bob"))
        assert row.seed != 7 and row.camera == "pan left"
        assert row.prompt == "a fox running through snow"


async def test_remix_opens_a_prefilled_form_and_queues_the_edited_text(stack) -> None:
    async with FakeDiscord() as fake, fake.running(await stack.new_bot()):
        first = await create(fake, "a paper boat on a rainy street -motion 3 -ar 1:1 -seed 11")
        parent_id = clip_id(first)

        ix = await fake.click_button(first, label="Remix", user="bob")
        modal = await ix.wait_modal()  # the first and only response to the click
        [text_input] = [c for c in walk_components(modal["components"]) if c["type"] == 4]
        spec = RenderSpec.model_validate(stack.store.get(parent_id).spec)
        expected = to_command_line(spec, capabilities=capabilities_for("tiny"))
        assert text_input["value"] == expected
        assert expected == "a paper boat on a rainy street -motion 3 -ar 1:1 -seed 11"

        sent = await fake.submit_modal(
            modal["custom_id"], {text_input["custom_id"]: "a red kite over the sea -seed 11"}
        )
        queued = await sent.wait_reply()
        assert not queued.ephemeral and "a red kite over the sea" in queued.content

        row, result = await child_clip(stack, fake, parent_id)
        assert "a red kite over the sea" in result.content
        assert (row.prompt, row.seed, row.motion, row.aspect_ratio) == (
            "a red kite over the sea",
            11,
            1,
            "16:9",
        )
        assert (row.parent_id, row.owner_id) == (parent_id, user_id(fake, "bob"))

        # A bad edit is refused privately, naming the token, and queues nothing.
        ix = await fake.click_button(first, label="Remix", user="bob")
        modal = await ix.wait_modal()
        sent = await fake.submit_modal(modal["custom_id"], {"text": "a kite -motion 9"})
        error = await sent.wait_reply()
        assert error.ephemeral and "-motion 9" in error.content
        assert len(CommunityStore(stack.engine).children(parent_id)) == 1


async def test_vary_keeps_the_seed_and_changes_motion(stack) -> None:
    async with FakeDiscord() as fake, fake.running(await stack.new_bot()):
        first = await create(fake, "a windmill at dusk -motion 4 -seed 21")
        ix = await fake.click_button(first, label="Vary")
        await ix.wait_reply()
        row, result = await child_clip(stack, fake, clip_id(first))
        assert (row.seed, row.motion) == (21, 3)  # at the top, motion steps down
        assert "-motion 3" in result.content and "-seed 21" in result.content


async def test_delete_is_for_the_owner_and_removes_the_clip(stack) -> None:
    async with FakeDiscord() as fake, fake.running(await stack.new_bot()):
        first = await create(fake, "a lighthouse in a storm -seed 3")
        gid = clip_id(first)
        queued_id = int(first.message_reference["message_id"])

        ix = await fake.click_button(first, label="Delete", user="bob")
        refusal = await ix.wait_reply()
        assert refusal.ephemeral and refusal.content == REFUSED
        assert first in fake.visible_messages()
        assert stack.store.get(gid).deleted_at is None

        ix = await fake.click_button(first, label="Delete", user="alice")
        done = await ix.wait_reply()
        assert done.ephemeral and done.content == "Deleted."
        visible = {m.id for m in fake.visible_messages()}
        assert first.id not in visible and queued_id not in visible  # its queued message too
        assert stack.store.get(gid).deleted_at is not None


async def test_reactions_remix_like_and_guard_delete(stack) -> None:
    async with FakeDiscord() as fake, fake.running(await stack.new_bot()):
        first = await create(fake, "a koi pond in autumn -motion 2 -seed 5")
        gid = clip_id(first)

        # 🔁 by bob: his own job, announced in a reply to the clip, then delivered as usual.
        await fake.add_reaction(first, "🔁", user="bob")
        queued = await fake.wait_for_message(
            lambda m: (
                "queued" in m.content
                and bool(m.message_reference)
                and int(m.message_reference["message_id"]) == first.id
            )
        )
        assert f"<@{fake.users['bob'].id}>" in queued.content
        row, result = await child_clip(stack, fake, gid)
        assert int(result.message_reference["message_id"]) == queued.id
        assert (row.parent_id, row.owner_id, row.motion) == (gid, user_id(fake, "bob"), 2)
        assert row.seed != 5

        # ❤️ likes, taking it back unlikes.
        await fake.add_reaction(first, "❤️", user="bob")
        await eventually(lambda: stack.store.get(gid), lambda r: r.like_count == 1)
        await fake.remove_reaction(first, "❤️", user="bob")
        await eventually(lambda: stack.store.get(gid), lambda r: r.like_count == 0)

        # ❌ by someone else is taken back and deletes nothing; a moderator's deletes.
        since = fake.cursor()
        await fake.add_reaction(first, "❌", user="bob")
        await fake.wait_for(
            lambda e: e.kind == "reaction_remove" and e.data == {"emoji": "❌", "user": "bob"},
            since=since,
        )
        assert first in fake.visible_messages() and stack.store.get(gid).deleted_at is None

        await fake.add_reaction(first, "❌", user="mod")
        await fake.wait_for(lambda e: e.kind == "delete" and e.message is first, since=since)
        assert (await eventually(lambda: stack.store.get(gid), lambda r: r.deleted_at)).deleted_at
        assert result in fake.visible_messages()  # bob's remix is his own clip


async def test_buttons_posted_before_a_restart_work_after_it(stack) -> None:
    async with FakeDiscord() as fake:
        async with fake.running(await stack.new_bot()):
            first = await create(fake, "a tram through fog -seed 13")
        async with fake.running(await stack.new_bot()):  # a new ReelBot: nothing in memory
            ix = await fake.click_button(first, label="Reroll", user="bob")
            queued = await ix.wait_reply()
            assert not queued.ephemeral
            row, _ = await child_clip(stack, fake, clip_id(first))
            assert row.owner_id == user_id(fake, "bob") and row.seed != 13
