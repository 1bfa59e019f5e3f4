"""/api token, /api tokens and /api revoke end to end: fake Discord ↔ unmodified discord.py bot
↔ SQLite gallery.

What members and moderators see (private answers, a token shown once, lists without secrets,
refusals that say why) and what the REST API will go by (the token verifies, or no longer
does) and the audit log keeps.
"""

from __future__ import annotations

import logging
import re

import pytest

from bot.moderation.buttons import REFUSED
from gallery.api_tokens import TokenStore
from gallery.moderation import ModerationStore
from tests.fakediscord import FakeDiscord, Message
from tests.harness.moderation import actions

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]

TOKEN = re.compile(r"rb_[a-z0-9]{12}_[A-Za-z0-9_-]{43}")
WEBHOOK_SECRET = re.compile(r"whsec_[A-Za-z0-9+/=]{32}")


async def run(fake: FakeDiscord, command: str, options: dict | None = None, **where) -> Message:
    """A member runs a command; the reply they see."""
    ix = await fake.slash_command(command, options or {}, **where)
    return await ix.wait_reply()


async def make_token(
    fake: FakeDiscord, user: str = "alice", channel: object = None, **options: str
) -> tuple[str, str]:
    """`user` runs /api token (in `channel`, default #clips); (the token's id, the token)."""
    shown = await run(fake, "api token", {"name": "my-site", **options}, user=user, channel=channel)
    assert shown.ephemeral, shown.content
    found = TOKEN.search(shown.content)
    assert found is not None, shown.content
    return found.group().split("_")[1], found.group()


async def test_a_token_is_shown_once_privately_and_works(stack, caplog) -> None:
    caplog.set_level(logging.DEBUG)  # discord.py's DEBUG lines quote what it sends
    tokens = TokenStore(stack.engine)
    async with FakeDiscord() as fake, fake.running(await stack.new_bot()):
        alice = fake.users["alice"]
        shown = await run(fake, "api token", {"name": "my-site"})
        assert shown.ephemeral
        [plaintext] = TOKEN.findall(shown.content)
        [webhook_secret] = WEBHOOK_SECRET.findall(shown.content)
        assert "won't be shown again" in shown.content
        assert "`clips:read clips:write`" in shown.content and "**my-site**" in shown.content
        assert [m for m in fake.messages if not m.ephemeral] == []

        token = tokens.verify(plaintext)
        assert token is not None
        assert token.member_id == f"discord:{alice.id}"
        assert token.guild_id == fake.world.guild.id
        assert (token.name, token.scopes) == ("my-site", "clips:read clips:write")
        assert token.webhook_secret == webhook_secret

        listing = await run(fake, "api tokens")
        assert listing.ephemeral
        assert f"`{token.id}` **my-site**" in listing.content and "clips:write" in listing.content
        assert plaintext not in listing.content and "rb_" not in listing.content
        assert "whsec_" not in listing.content
        assert plaintext.split("_", 2)[2] not in "".join(m.content for m in fake.messages[1:])

        empty = await run(fake, "api tokens", user="bob")
        assert empty.ephemeral and "You have no API tokens" in empty.content

        # discord.py's DEBUG line for a JSON body quotes it: what it says of a token is blanked.
        logging.getLogger("discord.http").debug("POST /x with %s has returned 200", shown.content)
        assert "POST /x with" in caplog.text

    assert actions(stack) == ["api_token_create"]
    [audit] = ModerationStore(stack.engine).log(member_id=f"discord:{alice.id}")
    assert audit.moderator_id == f"discord:{alice.id}" and token.id in audit.reason
    assert plaintext not in caplog.text and plaintext.split("_", 2)[2] not in caplog.text
    assert webhook_secret not in caplog.text


async def test_scopes_are_read_and_an_unknown_one_is_refused_naming_the_allowed(stack) -> None:
    tokens = TokenStore(stack.engine)
    async with FakeDiscord() as fake, fake.running(await stack.new_bot()):
        refused = await run(fake, "api token", {"name": "x", "scopes": "clips:read clips:delete"})
        assert refused.ephemeral and TOKEN.search(refused.content) is None
        assert "`clips:delete` isn't a token scope." in refused.content
        assert "Allowed: `clips:read`, `clips:write`, `webhooks:manage`." in refused.content

        token_id, _ = await make_token(fake, scopes="webhooks:manage, clips:write")
        made = tokens.get(token_id)
        assert made is not None and made.scopes == "clips:write webhooks:manage"
    assert actions(stack) == ["api_token_create"]


async def test_a_member_revokes_their_own_but_not_anothers(stack) -> None:
    tokens = TokenStore(stack.engine)
    async with FakeDiscord() as fake, fake.running(await stack.new_bot()):
        alices_id, alices = await make_token(fake, "alice")
        bobs_id, bobs = await make_token(fake, "bob")

        refused = await run(fake, "api revoke", {"id": bobs_id}, user="alice")
        assert refused.ephemeral
        assert refused.content == f"You have no API token `{bobs_id}`; `/api tokens` lists yours."
        assert tokens.verify(bobs) is not None

        done = await run(fake, "api revoke", {"id": alices_id}, user="alice")
        assert done.ephemeral
        assert f"Your token `{alices_id}` (**my-site**) no longer works." in done.content
        assert tokens.verify(alices) is None

        again = await run(fake, "api revoke", {"id": alices_id}, user="alice")
        assert "was already revoked" in again.content

        listing = await run(fake, "api tokens", user="alice")
        assert f"~~`{alices_id}`" in listing.content and "revoked <t:" in listing.content

        nosy = await run(fake, "api tokens", {"member": "bob"}, user="alice")
        assert nosy.ephemeral and nosy.content == REFUSED
    assert actions(stack) == ["api_token_create", "api_token_create", "api_token_revoke"]


async def test_a_moderator_revokes_anyones_token_and_sees_their_list(stack) -> None:
    tokens = TokenStore(stack.engine)
    async with FakeDiscord() as fake, fake.running(await stack.new_bot()):
        alice, mod = fake.users["alice"], fake.users["mod"]
        token_id, plaintext = await make_token(fake, "alice")
        dm = fake.world.dm_channel(alice)
        dm_id, dm_token = await make_token(fake, "alice", channel=dm)
        dm_row = tokens.get(dm_id)
        assert dm_row is not None and dm_row.guild_id is None  # made in DMs: no guild

        listing = await run(fake, "api tokens", {"member": "alice"}, user="mod")
        assert f"<@{alice.id}>'s API tokens:" in listing.content
        assert f"`{token_id}`" in listing.content and f"`{dm_id}`" in listing.content
        assert "rb_" not in listing.content

        done = await run(fake, "api revoke", {"id": token_id}, user="mod")
        assert done.ephemeral
        assert f"<@{alice.id}>'s token `{token_id}`" in done.content
        assert tokens.verify(plaintext) is None
        await run(fake, "api revoke", {"id": dm_id}, user="mod")
        assert tokens.verify(dm_token) is None

    revocations = [
        r for r in ModerationStore(stack.engine).log(limit=10) if r.action == "api_token_revoke"
    ]
    assert {(r.moderator_id, r.target_member_id) for r in revocations} == {
        (f"discord:{mod.id}", f"discord:{alice.id}")
    }
    assert {token_id, dm_id} == {r.reason.split()[1] for r in revocations}


async def test_a_banned_member_makes_no_token(stack) -> None:
    tokens = TokenStore(stack.engine)
    async with FakeDiscord() as fake, fake.running(await stack.new_bot()):
        alice = fake.users["alice"]
        banned = await run(fake, "mod ban", {"member": "alice", "reason": "spamming"}, user="mod")
        assert "can't make clips here" in banned.content

        refused = await run(fake, "api token", {"name": "sneaky"})
        assert refused.ephemeral and TOKEN.search(refused.content) is None
        assert "stopped you making clips here for good (spamming)" in refused.content
        assert "can't make API tokens" in refused.content
        dm = fake.world.dm_channel(alice)  # nor from DMs, where any ban counts
        from_dm = await run(fake, "api token", {"name": "sneaky"}, channel=dm)
        assert "can't make API tokens" in from_dm.content
        assert tokens.list_for(f"discord:{alice.id}") == []

        await run(fake, "mod unban", {"member": "alice"}, user="mod")
        await make_token(fake, "alice")
    assert actions(stack) == ["ban", "unban", "api_token_create"]
