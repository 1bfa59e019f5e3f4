"""Buttons and reactions on results, end to end: fake Discord ↔ unmodified discord.py bot ↔ real
Redis ↔ real worker process ↔ SQLite gallery.

Members click and react; the assertions are on what they see (buttons, replies, the clips that
arrive, messages that vanish) and on the gallery rows the web gallery shows (lineage, owner,
seed, likes, deletion). One worker renders for the whole module (none of its tests stops or
configures it); the clips land in its data folder.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from bot.app import ReelBot
from bot.notices import NOTICE_WINDOW_S
from core.capabilities import capabilities_for
from core.commandline import to_command_line
from core.spec import RenderSpec
from core.text import BIDI_CONTROLS
from gallery.community import CommunityStore
from gallery.moderation import ModerationStore
from tests.fakediscord import FakeDiscord, Message
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
        assert labels(first) == [
            "Reroll",
            "Remix",
            "Vary",
            "Loop",
            "Add sound",
            "Delete",
        ]  # no Extend
        assert all(cid.endswith(parent_id) for cid in first.custom_ids)

        ix = await fake.click_button(first, label="Reroll", user="bob")
        queued = await ix.wait_reply()
        assert not queued.ephemeral
        assert f"<@{fake.users['bob'].id}> queued" in queued.content
        assert "a fox running through snow" in queued.content

        row, result = await child_clip(stack, fake, parent_id)
        assert int(result.message_reference["message_id"]) == queued.id
        assert f"<@{fake.users['bob'].id}>" in result.content
        # The reroll's own seed is on its command line, not the parent's 7 (a new seed
        # may itself start with 7, so the whole flag is compared)
        assert "-camera pan left" in result.content and row.seed != 7
        assert f"-seed {row.seed}`" in result.content and "-seed 7`" not in result.content
        assert [name for name in result.files] == [f"reelbot-{row.seed}.mp4"]
        assert labels(result) == ["Reroll", "Remix", "Vary", "Loop", "Add sound", "Delete"]
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


def new_posts(fake: FakeDiscord, before: set[int]) -> list[Message]:
    """What a member reading the channel sees now that was not there in `before`."""
    return [m for m in fake.visible_messages() if m.id not in before]


def dms_to(fake: FakeDiscord, name: str) -> list[Message]:
    channel = fake.world.dm_channels.get(fake.users[name].id)
    return [] if channel is None else [m for m in fake.messages if m.channel_id == channel.id]


def repeats(caplog: pytest.LogCaptureFixture) -> int:
    """🔁 the bot let pass because the same member's 🔁 on that clip already counted."""
    return sum("already remixed" in r.getMessage() for r in caplog.records)


def handled(bot: ReelBot, caplog: pytest.LogCaptureFixture) -> int:
    """🔁 the bot is done with: let pass as repeats, or refused at intake (here: bans). A refused
    one frees its clip for the next 🔁, so the split between the two varies; the sum does not."""
    banned = bot.bot_metrics.registry.get_sample_value(
        "reelbot_bot_requests_total", {"outcome": "banned"}
    )
    return repeats(caplog) + int(banned or 0)


async def test_a_remix_reaction_flood_makes_one_clip_and_posts_nothing_else(
    stack, caplog: pytest.LogCaptureFixture
) -> None:
    """Ten 🔁 add/remove cycles by one member: one remix, announced once; the channel's message
    budget is left to clips. The prompt's right-to-left override is shown nowhere."""
    caplog.set_level(logging.INFO, logger="bot.cogs.remix")
    async with FakeDiscord() as fake, fake.running(await stack.new_bot()):
        first = await create(fake, "a heron \u202ein reeds -seed 9")
        gid = clip_id(first)
        before = {m.id for m in fake.visible_messages()}

        for _ in range(10):
            await fake.add_reaction(first, "🔁", user="bob")
            await fake.remove_reaction(first, "🔁", user="bob")
        row, result = await child_clip(stack, fake, gid)
        await eventually(lambda: repeats(caplog), lambda n: n == 9)  # the first one queued

        assert len(CommunityStore(stack.engine).children(gid)) == 1
        [status, posted] = new_posts(fake, before)  # the remix's queued message, and its clip
        assert posted is result and int(result.message_reference["message_id"]) == status.id
        assert int(status.message_reference["message_id"]) == first.id
        assert "queued" in status.history[0]["content"] and fake.state.pinged[status.id] == []
        assert dms_to(fake, "bob") == []  # nothing refused, nothing to tell
        assert row.owner_id == user_id(fake, "bob") and row.prompt == "a heron in reeds"
        for message in fake.messages:  # channel posts, edits' final text, replies, DMs
            assert not BIDI_CONTROLS & set(message.text), message
            assert not any(BIDI_CONTROLS & set(h.get("content") or "") for h in message.history)


async def test_refused_remix_reactions_are_told_once_privately_never_in_the_channel(
    stack, caplog: pytest.LogCaptureFixture
) -> None:
    """A banned member's 🔁 flood: one DM saying why, nothing in the channel. A member whose DMs
    are closed gets one line in the channel instead, which pings nobody."""
    caplog.set_level(logging.INFO, logger="bot.cogs.remix")
    async with FakeDiscord() as fake:
        carol = fake.world.add_user("carol")
        carol.accepts_dms = False
        bans = ModerationStore(stack.engine)
        for name in ("bob", "carol"):
            bans.ban(
                user_id(fake, name),
                fake.world.guild.id,
                created_by=user_id(fake, "mod"),
                reason="spam \u202emming",
            )
        async with fake.running(await stack.new_bot()) as bot:
            first = await create(fake, "a snail on a leaf -seed 4")
            before = {m.id for m in fake.visible_messages()}

            for _ in range(10):
                await fake.add_reaction(first, "🔁", user="bob")
                await fake.remove_reaction(first, "🔁", user="bob")
            await eventually(lambda: handled(bot, caplog), lambda n: n == 10)
            [dm] = await eventually(lambda: dms_to(fake, "bob"), lambda dms: len(dms) == 1)
            assert "stopped you making clips here" in dm.content and "spam mming" in dm.content
            assert f"/{first.channel_id}/{first.id}" in dm.content  # a link to the clip
            assert not BIDI_CONTROLS & set(dm.content)
            assert new_posts(fake, before) == []

            for _ in range(10):
                await fake.add_reaction(first, "🔁", user="carol")
                await fake.remove_reaction(first, "🔁", user="carol")
            await eventually(lambda: handled(bot, caplog), lambda n: n == 20)
            [notice] = await eventually(
                lambda: new_posts(fake, before), lambda posts: len(posts) == 1
            )
            assert notice.content.startswith(f"<@{carol.id}>") and "spam mming" in notice.content
            assert f"{NOTICE_WINDOW_S // 60} minutes" in notice.content
            assert int(notice.message_reference["message_id"]) == first.id
            assert fake.state.pinged[notice.id] == []
            assert not BIDI_CONTROLS & set(notice.content)
            assert dms_to(fake, "carol") == [] and len(dms_to(fake, "bob")) == 1
            ix = await fake.slash_command("create", {"prompt": "a snail"}, user="bob")
            refusal = await ix.wait_reply()  # the same refusal to a command: private, as ever
            assert refusal.ephemeral and "spam mming" in refusal.content
            for message in fake.messages:
                assert not BIDI_CONTROLS & set(message.text), message
    assert CommunityStore(stack.engine).children(clip_id(first)) == []
