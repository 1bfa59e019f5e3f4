"""The output scan end to end: fake Discord ↔ unmodified discord.py bot ↔ real Redis ↔ real
worker process running the real NudeNet classifier ↔ SQLite gallery.

The tiny model renders noise NudeNet scores near 0, so a threshold of 0 stands in for a clip
over the line: held (contact sheet to the moderators, Approve posts it once, Reject never),
blocked (never written, never posted), waived in an NSFW channel, and caught again on a report.
"""

from __future__ import annotations

import io
import json

import pytest
from PIL import Image
from sqlmodel import Session, select

from bot.moderation.clip_review import HELD_NOTE, SHEET_NAME, UNREVIEWED_NOTE
from bot.moderation.decisions import HIDDEN_NOTE, REJECTED_NOTE
from core.errors import BLOCKED_MESSAGE
from gallery.models import Generation
from tests.fakediscord import FakeDiscord, Message
from tests.harness.members import labels
from tests.harness.moderation import actions, moderating, new_bot
from tests.harness.stack import PUBLIC_URL, READY, Stack
from tests.harness.waiting import eventually
from worker.contact_sheet import CAPTION_H, GRID_KEY, tile_size

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

OVER_ANY = json.dumps({"nudity": 0})  # every clip scores at least 0


def scanning(workers, **env: str) -> None:
    """Start a worker that scans with NudeNet and the given thresholds."""
    workers.env.update({"REELBOT_SCAN_CLASSIFIERS": "nudenet", **env})
    workers.start()


async def held_clip(fake: FakeDiscord, prompt: str) -> tuple[Message, Message, Message]:
    """alice asks; the queued message, the note the clip will become, and the review card."""
    ix = await fake.slash_command("create", {"prompt": prompt}, user="alice")
    queued = await ix.wait_reply()
    note = await fake.wait_for_message(lambda m: m.content == HELD_NOTE, timeout=90)
    review = await fake.wait_for_message(
        lambda m: "held by the output scan" in m.content, channel="mod-review"
    )
    return queued, note, review


def only_row(stack: Stack) -> Generation:
    with Session(stack.engine) as session:
        [row] = session.exec(select(Generation)).all()
    return row


def mp4_posts(fake: FakeDiscord) -> list[Message]:
    return [m for m in fake.messages if any(n.endswith(".mp4") for n in m.files)]


async def test_a_held_clip_reaches_moderators_as_a_contact_sheet_and_approve_posts_it_once(
    stack, workers
) -> None:
    scanning(workers, REELBOT_SCAN_HOLD=OVER_ANY)
    async with moderating() as fake, fake.running(bot := await new_bot(stack, fake)):
        alice = fake.users["alice"]
        queued, note, review = await held_clip(fake, "a red kite over a beach -seed 5 -ar 16:9")
        assert int(note.message_reference["message_id"]) == queued.id
        assert note.files == {} and note.components == []
        assert f"<@{alice.id}>" in review.content and "nudity 0.0" in review.content
        assert "≥ 0.00" in review.content and "-seed 5" in review.content
        assert labels(review) == ["Approve", "Reject"]

        # The contact sheet: eight sampled frames (first, last, six between) in a 4 × 2 grid.
        sheet = Image.open(io.BytesIO(review.files[SHEET_NAME]))
        assert sheet.format == "PNG" and sheet.text[GRID_KEY] == "4x2"
        row = only_row(stack)
        gid = row.id
        tile_w, tile_h = tile_size(row.spec["height"], row.spec["width"])
        assert sheet.size == (4 * tile_w, 2 * (tile_h + CAPTION_H))
        assert (row.status, row.moderation) == ("done", "held")
        assert stack.store.list_public() == []  # hidden from the gallery until approved
        assert mp4_posts(fake) == []

        ix = await fake.click_button(review, label="Approve", user="mod")
        assert "Approved by" in (await ix.wait_reply()).content
        await fake.wait_for_message(lambda m: m is note and READY in m.content)
        assert list(note.files) == ["reelbot-5.mp4"] and "Reroll" in labels(note)
        dm = await fake.wait_for_message(
            lambda m: "approved your clip" in m.content, channel=fake.world.dm_channel(alice).id
        )
        assert f"{PUBLIC_URL}/clips/{gid}" in dm.content
        assert mp4_posts(fake) == [note]  # posted once: the waiting message became the clip
        assert [r.id for r in stack.store.list_public()] == [gid]

        # A moderator approved it: a report's rescan, over the same line, does not hide it.
        await fake.add_reaction(note, "🚩", user="bob")
        await fake.wait_for(lambda e: e.kind == "reaction_remove" and e.message is note)
        await eventually(lambda: bot.rescans.tasks, lambda tasks: not tasks)
        assert stack.store.get(gid).moderation == "ok"
    assert actions(stack) == ["hold", "approve"]


async def test_a_rejected_clip_is_never_posted_and_its_member_is_told(stack, workers) -> None:
    scanning(workers, REELBOT_SCAN_HOLD=OVER_ANY)
    async with moderating() as fake, fake.running(await new_bot(stack, fake)):
        alice = fake.users["alice"]
        _, note, review = await held_clip(fake, "a paper boat -seed 6")
        ix = await fake.click_button(review, label="Reject", user="mod")
        modal = await ix.wait_modal()
        sent = await fake.submit_modal(modal["custom_id"], {"reason": "Not for this server."})
        assert "Rejected by" in (await sent.wait_reply()).content
        await fake.wait_for_message(lambda m: m is note and m.content == REJECTED_NOTE)
        dm = await fake.wait_for_message(
            lambda m: "did not approve your clip" in m.content,
            channel=fake.world.dm_channel(alice).id,
        )
        assert "Not for this server." in dm.content and "a paper boat" in dm.content
        row = only_row(stack)
        assert (row.status, row.moderation) == ("done", "removed")
        assert mp4_posts(fake) == [] and stack.store.list_public() == []
    assert actions(stack) == ["hold", "reject"]


async def test_a_blocked_clip_is_never_written_or_posted(stack, workers) -> None:
    scanning(workers, REELBOT_SCAN_BLOCK=OVER_ANY)
    async with moderating() as fake, fake.running(await new_bot(stack, fake)):
        ix = await fake.slash_command("create", {"prompt": "a lighthouse -seed 7"}, user="alice")
        await ix.wait_reply()
        failed = await fake.wait_for_message(lambda m: BLOCKED_MESSAGE in m.content, timeout=90)
        assert failed.files == {} and failed.channel_id == fake.world.guild.channel("clips").id
        review = await fake.wait_for_message(
            lambda m: "blocked by the output scan" in m.content, channel="mod-review"
        )
        assert "nudity" in review.content and review.files == {} and labels(review) == []
        assert "nudity" not in failed.content  # the scores are for moderators only
        row = only_row(stack)
        assert (row.status, row.moderation) == ("failed", "removed")
        assert not any(stack.media.path_for(row.id, kind).exists() for kind in ("mp4", "jpg"))
        assert mp4_posts(fake) == []
    assert actions(stack) == ["block"]


async def test_an_nsfw_channel_waives_the_hold_where_minors_are_looked_for(stack, workers) -> None:
    # NudeNet plus the (tiny) CLIP checker, which scores minors: waivers count.
    scanning(
        workers,
        REELBOT_SCAN_CLASSIFIERS="nudenet,clip",
        REELBOT_SCAN_CLIP_MODEL="builtin:tiny",
        REELBOT_SCAN_HOLD=OVER_ANY,
        REELBOT_SCAN_BLOCK="{}",
    )
    async with moderating() as fake:
        fake.world.guild.channel("clips").nsfw = True
        bot = await new_bot(stack, fake, nsfw_scan_skip={"*": ("nudity",)})
        async with fake.running(bot):
            ix = await fake.slash_command("create", {"prompt": "a red fox -seed 8"}, user="alice")
            await ix.wait_reply()
            result = await fake.wait_for_message(lambda m: READY in m.content, timeout=90)
            assert list(result.files) == ["reelbot-8.mp4"]
            row = only_row(stack)
            assert row.spec["scan_skip"] == ["nudity"] and row.moderation == "ok"
            await eventually(lambda: stack.store.get(row.id), lambda r: r.discord_message_id)

            # Its own waiver counts on a report's rescan too: one 🚩 does not hide it.
            await fake.add_reaction(result, "🚩", user="bob")
            await fake.wait_for(lambda e: e.kind == "reaction_remove" and e.message is result)
            await eventually(lambda: bot.rescans.tasks, lambda tasks: not tasks, timeout=60)
            assert stack.store.get(row.id).moderation == "ok" and READY in result.content
    assert actions(stack) == []


async def test_a_report_has_a_clip_made_before_scanning_was_on_scanned_and_hidden(
    stack, workers
) -> None:
    workers.env["REELBOT_SCAN_CLASSIFIERS"] = "none"
    workers.start()  # the clip is made while nothing scans
    async with moderating() as fake, fake.running(bot := await new_bot(stack, fake)):
        ix = await fake.slash_command("create", {"prompt": "a red kite -seed 9"}, user="alice")
        await ix.wait_reply()
        result = await fake.wait_for_message(lambda m: READY in m.content, timeout=90)
        row = await eventually(lambda: only_row(stack), lambda r: r.discord_message_id)
        workers.stop_all()
        scanning(workers, REELBOT_SCAN_HOLD=OVER_ANY)  # the operator turns the scan on

        # One report (the threshold is 3) has a worker scan the clip: over the line, so it is
        # hidden at once and sent to review with its contact sheet.
        await fake.add_reaction(result, "🚩", user="bob")
        review = await fake.wait_for_message(
            lambda m: "hidden by the output scan" in m.content, channel="mod-review", timeout=90
        )
        assert labels(review) == ["Restore", "Remove"]
        assert Image.open(io.BytesIO(review.files[SHEET_NAME])).text[GRID_KEY] == "4x2"
        await fake.wait_for_message(lambda m: m is result and m.content == HIDDEN_NOTE)
        assert stack.store.get(row.id).moderation == "hidden"

        # A moderator keeps it: the next report does not send it back.
        ix = await fake.click_button(review, label="Restore", user="mod")
        await ix.wait_reply()
        await fake.wait_for_message(lambda m: m is result and READY in m.content)
        fake.world.add_user("carol")
        await fake.add_reaction(result, "🚩", user="carol")
        await fake.wait_for(lambda e: e.kind == "reaction_remove" and e.message is result)
        await eventually(lambda: bot.rescans.tasks, lambda tasks: not tasks)
        assert stack.store.get(row.id).moderation == "ok"
    assert actions(stack) == ["hide", "restore"]


async def test_without_a_review_channel_a_held_clip_is_not_posted_and_its_member_hears(
    stack, workers
) -> None:
    scanning(workers, REELBOT_SCAN_HOLD=OVER_ANY)
    async with moderating() as fake, fake.running(await stack.new_bot()):  # no review channel
        alice = fake.users["alice"]
        ix = await fake.slash_command("create", {"prompt": "a kite -seed 3"}, user="alice")
        await ix.wait_reply()
        note = await fake.wait_for_message(lambda m: m.content == HELD_NOTE, timeout=90)
        await fake.wait_for_message(lambda m: m is note and m.content == UNREVIEWED_NOTE)
        dm = await fake.wait_for_message(
            lambda m: BLOCKED_MESSAGE in m.content, channel=fake.world.dm_channel(alice).id
        )
        assert "a kite" in dm.content
        assert (only_row(stack).moderation, mp4_posts(fake)) == ("removed", [])
    assert actions(stack) == ["hold", "remove"]
