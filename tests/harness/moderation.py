"""A guild with a #mod-review channel, a bot that sends its reviews there, and the audit log."""

from __future__ import annotations

from typing import Any

from bot.app import ReelBot
from bot.moderation.config import ReviewConfig
from gallery.moderation import ModerationStore
from tests.fakediscord import FakeDiscord
from tests.harness.stack import Stack


def moderating() -> FakeDiscord:
    """The fake Discord with a #mod-review channel besides the defaults."""
    fake = FakeDiscord()
    fake.world.add_channel("mod-review")
    return fake


async def new_bot(stack: Stack, fake: FakeDiscord, *, threshold: int = 3, **review: Any) -> ReelBot:
    """A bot as `run_bot` builds it, with #mod-review as its review channel (and any other
    `ReviewConfig` field given)."""
    channel = fake.world.guild.channel("mod-review")
    config = ReviewConfig(channel_id=channel.id, report_threshold=threshold, **review)
    return await stack.new_bot(review=config)


def actions(stack: Stack) -> list[str]:
    """The audit log, oldest first."""
    return [row.action for row in reversed(ModerationStore(stack.engine).log(limit=100))]
