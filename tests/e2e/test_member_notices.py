"""Notices other processes queue for a member (the REST API turning off their webhook
endpoint) reach them as one DM through the unmodified bot and the fake Discord: once, also
when a bot reads the notice again after a crash, and across a restart."""

from __future__ import annotations

import pytest

from bot.delivery.member_notices import GROUP
from jobs.keys import MEMBER_NOTICES_STREAM
from jobs.member_notices import notify_member
from tests.fakediscord import FakeDiscord, Message
from tests.harness.members import user_id
from tests.harness.waiting import eventually

pytestmark = [pytest.mark.timeout(60)]

NOTICE = "Your webhook endpoint https://example.com/hook was turned off \u202eafter a day."


def dms_to(fake: FakeDiscord, name: str) -> list[Message]:
    channel = fake.world.dm_channels.get(fake.users[name].id)
    return [] if channel is None else [m for m in fake.messages if m.channel_id == channel.id]


async def acknowledged(redis) -> bool:
    groups = await redis.xinfo_groups(MEMBER_NOTICES_STREAM)
    [group] = [g for g in groups if g["name"] in (GROUP, GROUP.encode())]
    return int(group["pending"]) == 0 and group["last-delivered-id"] != b"0-0"


async def test_a_notice_is_one_dm_even_when_read_again(stack, redis) -> None:
    async with FakeDiscord() as fake:
        async with fake.running(await stack.new_bot()) as bot:
            await notify_member(redis, user_id(fake, "bob"), NOTICE)
            await notify_member(redis, "cli:alice", "no Discord account: logged, dropped")
            [dm] = await eventually(lambda: dms_to(fake, "bob"), lambda dms: len(dms) == 1)
            assert "turned off after a day" in dm.content  # no bidi control shown
            assert "\u202e" not in dm.content
            await eventually(lambda: acknowledged(redis))

            # A bot killed after the DM and before the ack reads the entry again: Discord
            # matches the nonce and makes no second message.
            [(entry_id, fields)] = await redis.xrange(MEMBER_NOTICES_STREAM, count=1)
            await bot.notice_dms.reader._handle(entry_id, fields)
            assert len(dms_to(fake, "bob")) == 1
            assert [e.kind for e in fake.recorder.log].count("dedup") == 1

        async with fake.running(await stack.new_bot()):  # a restart: nothing sent again
            await notify_member(redis, user_id(fake, "bob"), "a second notice")
            await eventually(lambda: dms_to(fake, "bob"), lambda dms: len(dms) == 2)
            await eventually(lambda: acknowledged(redis))
            assert [m.content for m in dms_to(fake, "bob")][1] == "a second notice"
            assert [e.kind for e in fake.recorder.log].count("dedup") == 1
