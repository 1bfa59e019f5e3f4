"""One member, two front ends: clips asked through the REST API and through Discord (the fake
Discord and an unmodified discord.py bot) count against the same caps and stand in the same
fair queue, because both are the member `discord:<id>` in the same guild. No worker runs:
nothing here needs a clip to render."""

from __future__ import annotations

import pytest

from tests.api.conftest import open_api
from tests.fakediscord import FakeDiscord
from tests.harness.members import user_id

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]


async def test_api_and_discord_clips_of_one_member_share_caps_and_the_fair_queue(
    stack, redis_server, data_dir
) -> None:
    database = f"sqlite:///{data_dir / 'reelbot.db'}"  # the stack's own database
    async with FakeDiscord() as fake, fake.running(await stack.new_bot()):
        alice, guild = user_id(fake, "alice"), fake.world.guild.id
        async with open_api(redis_server.url, database, data_dir) as api:
            token = api.issue(alice, guild_id=guild)
            # Alice asks for two clips through the API, then two in Discord: four in flight.
            for n in range(2):
                answer = await api.post_clip({"prompt": f"an api fox {n}"}, token=token)
                assert answer.status == 202, answer.body
            for n in range(2):
                ix = await fake.slash_command("create", {"prompt": f"a discord fox {n}"})
                reply = await ix.wait_reply()
                assert "queued" in reply.content and not reply.ephemeral
            # Her fifth is refused on both, in the same words.
            ix = await fake.slash_command("create", {"prompt": "one too many"})
            refusal = await ix.wait_reply()
            assert refusal.ephemeral
            assert "You have 4 clips waiting or rendering" in refusal.content
            over = await api.post_clip({"prompt": "one too many"}, token=token)
            assert over.status == 429
            assert over.detail.startswith("You have 4 clips waiting or rendering")
            assert over.detail in refusal.content

            # Bob asks in Discord: the fair queue puts him second, not behind her four.
            ix = await fake.slash_command("create", {"prompt": "bob's fox"}, user="bob")
            bob_reply = await ix.wait_reply()
            assert "#2 in the queue" in bob_reply.content
            rows = stack.store.list_unfinished()
            assert {r.owner_id for r in rows} == {alice, user_id(fake, "bob")}
            assert sum(r.owner_id == alice for r in rows) == 4

            # One of hers cancelled through the API frees a place for her in Discord.
            mine = (await api.call("GET", "/v1/clips", token=token)).body["clips"]
            assert len(mine) == 4  # the API lists her Discord clips too
            api_made = next(c for c in mine if c["prompt"] == "an api fox 0")
            cancelled = await api.call("POST", f"/v1/clips/{api_made['id']}/cancel", token=token)
            assert cancelled.status == 200
            ix = await fake.slash_command("create", {"prompt": "now there is room"})
            assert "queued" in (await ix.wait_reply()).content
