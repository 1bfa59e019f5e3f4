"""Moderation end to end: fake Discord ↔ unmodified discord.py bot ↔ real Redis ↔ real worker
process ↔ SQLite gallery.

What members and moderators see: a refused or held request, the review message and its buttons,
the approved clip arriving once, the rejection reason, bans, hidden clips and the audit log.
"""

from __future__ import annotations

import pytest

from bot.moderation.buttons import REFUSED
from bot.moderation.decisions import HIDDEN_BY_MOD, HIDDEN_NOTE
from gallery.moderation import ModerationStore
from tests.fakediscord import FakeDiscord, Message
from tests.harness.fleet import DEFAULT_QUEUE
from tests.harness.members import labels
from tests.harness.moderation import actions, moderating, new_bot
from tests.harness.stack import PUBLIC_URL, READY
from tests.harness.waiting import eventually

pytestmark = [pytest.mark.slow, pytest.mark.timeout(150)]

FLAGGED = "a nude marble statue in a museum -seed 4"  # the shipped policy's nudity rule flags it


async def held_request(fake: FakeDiscord, prompt: str = FLAGGED) -> tuple[Message, Message]:
    """alice asks for a flagged prompt: her private answer and the review message."""
    ix = await fake.slash_command("create", {"prompt": prompt}, user="alice")
    answer = await ix.wait_reply()
    review = await fake.wait_for_message(
        lambda m: "Held for review" in m.content, channel="mod-review"
    )
    return answer, review


async def test_a_blocked_prompt_is_refused_privately_saying_why(stack, redis) -> None:
    async with moderating() as fake, fake.running(await new_bot(stack, fake)):
        ix = await fake.slash_command("create", {"prompt": "a l0li in a bikini"}, user="alice")
        reply = await ix.wait_reply()
        assert reply.ephemeral
        assert "can't make this clip" in reply.content and "minors" in reply.content
        assert [m for m in fake.messages if not m.ephemeral] == []
    assert await redis.zcard(DEFAULT_QUEUE) == 0
    assert stack.store.list_unfinished() == []


async def test_a_flagged_prompt_is_held_then_approved_and_posted_once(
    stack, workers, redis
) -> None:
    workers.start()
    async with moderating() as fake, fake.running(await new_bot(stack, fake)):
        alice = fake.users["alice"]
        answer, review = await held_request(fake)
        assert answer.ephemeral and "held for review" in answer.content
        assert "moderator" in answer.content
        assert f"<@{alice.id}>" in review.content and "<#" in review.content
        assert "-seed 4" in review.content and "a nude marble statue" in review.content
        assert "Rule `" in review.content and "`nude`" in review.content
        assert labels(review) == ["Approve", "Reject"]
        [row] = stack.store.list_unfinished()
        assert (row.moderation, row.status) == ("held", "queued")
        assert await redis.zcard(DEFAULT_QUEUE) == 0
        assert [m for m in fake.visible_messages() if m.channel_id == answer.channel_id] == []

        ix = await fake.click_button(review, label="Approve", user="bob")  # not a moderator
        refusal = await ix.wait_reply()
        assert refusal.ephemeral and refusal.content == REFUSED
        assert stack.store.get(row.id).moderation == "held"

        ix = await fake.click_button(review, label="Approve", user="mod")
        decided = await ix.wait_reply()
        assert decided.id == review.id and "Approved by" in decided.content
        assert labels(decided) == []  # decided once: no buttons left

        queued = await fake.wait_for_message(
            lambda m: "queued" in m.content and "approved" in m.content, channel="clips"
        )
        assert f"<@{alice.id}>" in queued.content
        result = await fake.wait_for_message(lambda m: READY in m.content, timeout=60)
        assert result.channel_id == queued.channel_id
        assert int(result.message_reference["message_id"]) == queued.id
        assert [name for name in result.files] == ["reelbot-4.mp4"]
        done = await eventually(lambda: stack.store.get(row.id), lambda r: r.discord_message_id)
        assert (done.moderation, done.status) == ("ok", "done")
        assert [m for m in fake.messages if READY in m.content] == [result]  # posted once
    assert actions(stack) == ["hold", "approve"]


async def test_a_rejected_request_is_never_queued_and_the_member_is_told_why(stack, redis) -> None:
    async with moderating() as fake, fake.running(await new_bot(stack, fake)):
        alice = fake.users["alice"]
        _, review = await held_request(fake)
        [row] = stack.store.list_unfinished()

        ix = await fake.click_button(review, label="Reject", user="mod")
        modal = await ix.wait_modal()  # the first response to the click
        sent = await fake.submit_modal(
            modal["custom_id"], {"reason": "No nudity in this server, please."}
        )
        decided = await sent.wait_reply()
        assert decided.id == review.id and "Rejected by" in decided.content
        assert "No nudity in this server" in decided.content and labels(decided) == []

        dm = await fake.wait_for_message(
            lambda m: "did not approve" in m.content,
            channel=fake.world.dm_channel(alice).id,
        )
        assert "No nudity in this server, please." in dm.content
        assert "a nude marble statue" in dm.content
        rejected = stack.store.get(row.id)
        assert (rejected.moderation, rejected.status) == ("removed", "failed")
        assert "No nudity" in rejected.error

        # A second decision on the same request is refused, and nothing is queued.
        assert await redis.zcard(DEFAULT_QUEUE) == 0
    assert actions(stack) == ["hold", "reject"]
    [audit] = ModerationStore(stack.engine).log(member_id=f"discord:{alice.id}", limit=1)
    assert audit.moderator_id == f"discord:{fake.users['mod'].id}"
    assert audit.reason == "No nudity in this server, please."


async def test_mod_commands_refuse_members_who_are_not_moderators(stack) -> None:
    async with moderating() as fake, fake.running(await new_bot(stack, fake)):
        for command, options in (("mod log", {}), ("mod ban", {"member": "bob"})):
            ix = await fake.slash_command(command, options, user="alice")
            reply = await ix.wait_reply()
            assert reply.ephemeral and reply.content == REFUSED
    assert actions(stack) == []


async def test_a_banned_member_is_refused_until_unbanned(stack, redis) -> None:
    async with moderating() as fake, fake.running(await new_bot(stack, fake)):
        alice = fake.users["alice"]
        ix = await fake.slash_command(
            "mod ban", {"member": "alice", "reason": "spamming", "duration": "3d"}, user="mod"
        )
        done = await ix.wait_reply()
        assert done.ephemeral and "can't make clips here until <t:" in done.content

        ix = await fake.slash_command("create", {"prompt": "a calm lake"}, user="alice")
        refusal = await ix.wait_reply()
        assert (
            refusal.ephemeral and "until <t:" in refusal.content and "spamming" in refusal.content
        )
        assert await redis.zcard(DEFAULT_QUEUE) == 0 and stack.store.list_unfinished() == []

        ix = await fake.slash_command("mod log", {"member": "alice"}, user="mod")
        log = await ix.wait_reply()
        assert log.ephemeral and "**ban**" in log.content and f"<@{alice.id}>" in log.content
        assert "spamming" in log.content

        ix = await fake.slash_command("mod unban", {"member": "alice"}, user="mod")
        assert "again" in (await ix.wait_reply()).content
        ix = await fake.slash_command("create", {"prompt": "a calm lake"}, user="alice")
        queued = await ix.wait_reply()
        assert not queued.ephemeral and "queued" in queued.content
    assert actions(stack) == ["ban", "unban"]


async def test_reports_hide_a_clip_for_review_and_moderators_hide_restore_and_purge(
    stack, workers
) -> None:
    workers.start()
    async with moderating() as fake, fake.running(await new_bot(stack, fake, threshold=2)):
        ix = await fake.slash_command("create", {"prompt": "a red kite -seed 2"}, user="alice")
        await ix.wait_reply()
        result = await fake.wait_for_message(lambda m: READY in m.content, timeout=60)
        gid = result.content.split(f"{PUBLIC_URL}/clips/")[1].split()[0]
        await eventually(lambda: stack.store.get(gid), lambda r: r.discord_message_id)
        assert [r.id for r in stack.store.list_public()] == [gid]

        # 🚩 by the owner and twice by bob count once; carol's makes two: hidden for review.
        fake.world.add_user("carol")
        for user in ("alice", "bob", "bob"):
            await fake.add_reaction(result, "🚩", user=user)
        await fake.wait_for(lambda e: e.kind == "reaction_remove" and e.message is result)
        assert result.content.startswith("<@")  # not hidden yet
        await fake.add_reaction(result, "🚩", user="carol")
        review = await fake.wait_for_message(
            lambda m: "Reported clip hidden" in m.content, channel="mod-review"
        )
        assert labels(review) == ["Restore", "Remove"] and gid in review.content
        assert result.content == HIDDEN_NOTE and result.files == {} and result.components == []
        assert stack.store.get(gid).moderation == "hidden"
        assert stack.store.list_public() == []  # gone from the gallery

        ix = await fake.click_button(review, label="Restore", user="mod")
        assert "Restored by" in (await ix.wait_reply()).content
        await fake.wait_for_message(lambda m: m is result and READY in m.content)
        assert list(result.files) == ["reelbot-2.mp4"] and "Reroll" in labels(result)
        assert [r.id for r in stack.store.list_public()] == [gid]

        # /mod hide by message link, /mod unhide by gallery link, /mod purge of the member.
        link = f"https://discord.com/channels/{fake.world.guild.id}/{result.channel_id}/{result.id}"
        ix = await fake.slash_command("mod hide", {"clip": link, "reason": "off topic"}, user="mod")
        assert "Hidden" in (await ix.wait_reply()).content
        assert result.content == HIDDEN_BY_MOD and stack.store.list_public() == []
        ix = await fake.slash_command(
            "mod unhide", {"clip": f"{PUBLIC_URL}/clips/{gid}"}, user="mod"
        )
        assert "back" in (await ix.wait_reply()).content
        assert [r.id for r in stack.store.list_public()] == [gid]
        ix = await fake.slash_command("mod purge", {"member": "alice"}, user="mod")
        assert "Hid 1 clips" in (await ix.wait_reply()).content
        assert result.content == HIDDEN_BY_MOD and stack.store.list_public() == []

        ix = await fake.slash_command("mod log", {}, user="mod")
        log = await ix.wait_reply()
        assert log.content.count("\n") == 4 and "automatic" in log.content
    assert actions(stack) == ["hide", "restore", "hide", "unhide", "purge"]


async def test_a_clip_purged_while_queued_is_never_posted_with_its_video(stack, workers) -> None:
    """The purge lands while the clip waits; the worker still renders it, and delivery posts the
    moderator's notice in its place (recorded as the clip's message, so unhide can restore it)."""
    async with moderating() as fake, fake.running(await new_bot(stack, fake)):
        ix = await fake.slash_command("create", {"prompt": "a red kite -seed 3"}, user="alice")
        queued = await ix.wait_reply()
        [row] = stack.store.list_unfinished()
        ix = await fake.slash_command("mod purge", {"member": "alice"}, user="mod")
        assert "Hid 1 clips" in (await ix.wait_reply()).content

        workers.start()
        notice = await fake.wait_for_message(
            lambda m: m.content == HIDDEN_BY_MOD, channel="clips", timeout=60
        )
        done = await eventually(lambda: stack.store.get(row.id), lambda r: r.discord_message_id)
        assert done.status == "done" and done.media_path and done.moderation == "hidden"
        assert done.discord_message_id == notice.id
        assert int(notice.message_reference["message_id"]) == queued.id
        assert notice.files == {} and notice.components == [] and PUBLIC_URL not in notice.content

        for message in fake.messages:  # nothing ever carried the clip, not even for a moment
            shown = [message.payload(fake.world.bot.id), *message.history]
            names = [a["filename"] for snapshot in shown for a in snapshot["attachments"]]
            assert not [n for n in names if n.endswith(".mp4")], message
            assert READY not in message.content, message


async def test_a_held_request_shows_as_held_and_its_owner_can_withdraw_it(stack, redis) -> None:
    async with moderating() as fake, fake.running(await new_bot(stack, fake)):
        _, review = await held_request(fake)
        [row] = stack.store.list_unfinished()
        listing = await (await fake.slash_command("queue", user="alice")).wait_reply()
        assert "held for a moderator's review" in listing.content
        withdrawn = await (await fake.click_button(listing, label="Cancel 1")).wait_reply(
            lambda m: "Cancelled" in m.content
        )
        assert "Nothing of yours" in withdrawn.content
        after = stack.store.get(row.id)
        assert (after.moderation, after.status, after.error) == (
            "removed",
            "failed",
            "cancelled by owner",
        )
        # The moderator's Approve comes too late: nothing is queued.
        ix = await fake.click_button(review, label="Approve", user="mod")
        late = await ix.wait_reply()
        assert "Approved" not in late.content
        assert stack.store.get(row.id).status == "failed"
        assert await redis.zcard(DEFAULT_QUEUE) == 0
