"""Where reviews go and who may decide them, from `BotSettings` (`ReelBot.review_config`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import discord


@dataclass(frozen=True, slots=True)
class ReviewConfig:
    """The review channel, the moderator roles, the report threshold and the NSFW waivers."""

    channel_id: int | None = None
    moderator_role_ids: frozenset[int] = field(default_factory=frozenset)
    report_threshold: int = 3
    # guild id (or "*") → output-scan categories NSFW channels there skip the hold for
    nsfw_scan_skip: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def scan_skip(self, guild_id: int | None) -> tuple[str, ...]:
        """What an NSFW channel of this guild waives (its own entry, else the "*" one)."""
        if guild_id is None:
            return ()
        return tuple(self.nsfw_scan_skip.get(str(guild_id), self.nsfw_scan_skip.get("*", ())))

    def is_moderator(self, interaction: discord.Interaction[Any]) -> bool:
        """Manage Messages where they act, or one of the configured moderator roles."""
        if interaction.guild_id is None:
            return False
        if interaction.permissions.manage_messages:
            return True
        roles = {role.id for role in getattr(interaction.user, "roles", ())}
        return not roles.isdisjoint(self.moderator_role_ids)
