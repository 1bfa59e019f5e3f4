"""A local fake Discord (REST + gateway) for end-to-end tests of the bot with real discord.py.

See `server.FakeDiscord` for the scripting and recording API.
"""

from __future__ import annotations

from tests.fakediscord.records import Attachment, Callback, Event, Interaction, Message
from tests.fakediscord.server import FakeDiscord
from tests.fakediscord.world import Channel, Guild, Overwrite, Role, User, World

__all__ = [
    "Attachment",
    "Callback",
    "Channel",
    "Event",
    "FakeDiscord",
    "Guild",
    "Interaction",
    "Message",
    "Overwrite",
    "Role",
    "User",
    "World",
]
