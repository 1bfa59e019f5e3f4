"""What members do on the fake Discord and what they get back: a clip asked for, its buttons,
the remixes it leads to."""

from __future__ import annotations

from gallery.community import CommunityStore
from gallery.models import Generation
from tests.fakediscord import FakeDiscord, Message
from tests.fakediscord.records import walk_components
from tests.harness.stack import READY, Stack
from tests.harness.waiting import eventually


def labels(message: Message) -> list[str]:
    """The labels of a message's buttons, in order."""
    return [c["label"] for c in walk_components(message.components) if c.get("type") == 2]


def user_id(fake: FakeDiscord, name: str) -> str:
    """A fake member's owner id in the gallery."""
    return f"discord:{fake.users[name].id}"


def results_of(fake: FakeDiscord, generation_id: str) -> list[Message]:
    return [
        m for m in fake.messages if READY in m.content and f"/clips/{generation_id}" in m.content
    ]


async def create(fake: FakeDiscord, prompt: str, *, user: str = "alice") -> Message:
    """Run /create and wait for its clip, as the member who asked would."""
    ix = await fake.slash_command("create", {"prompt": prompt}, user=user)
    queued = await ix.wait_reply()
    return await fake.wait_for_message(
        lambda m: (
            READY in m.content
            and bool(m.message_reference)
            and int(m.message_reference["message_id"]) == queued.id
        ),
        timeout=60,
    )


async def child_clip(
    stack: Stack, fake: FakeDiscord, parent_id: str, *, count: int = 1
) -> tuple[Generation, Message]:
    """The newest remix of `parent_id` once its clip is posted, and the message posting it."""
    community = CommunityStore(stack.engine)
    children = await eventually(lambda: community.children(parent_id), lambda c: len(c) == count)
    child = children[-1]
    result = await fake.wait_for_message(
        lambda m: READY in m.content and f"/clips/{child.id}" in m.content, timeout=60
    )
    row = await eventually(lambda: stack.store.get(child.id), lambda r: r.discord_message_id)
    assert row.discord_message_id == result.id
    assert results_of(fake, child.id) == [result]  # posted once
    return row, result
