"""Settings of the bot and the `reelbot` command (`REELBOT_` environment variables or `.env`)."""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import Field, SecretStr, field_validator

from core.fairshare import Caps
from core.limits import Limits, RoleLimits
from gallery.settings import GallerySettings
from jobs.settings import QueueSettings


class BotSettings(QueueSettings, GallerySettings):
    discord_token: SecretStr | None = Field(default=None, description="bot token; unset → no bot")
    workers: int = Field(default=1, ge=0, le=64, description="local workers `reelbot up` starts")
    max_in_flight: int = Field(
        default=4, ge=1, description="clips one member may have waiting or rendering at once"
    )
    max_per_day: int = Field(default=50, ge=1, description="clips one member may ask for a day")
    role_limits: dict[int, RoleLimits] = Field(
        default_factory=dict,
        description='higher caps per role id, JSON: {"123": {"in_flight": 8, "per_day": 200}}',
    )
    fast_per_day: int | None = Field(
        default=None,
        ge=0,
        description="after this many clips in a day a member's clips go to the relax tier",
    )

    def limits(self) -> Limits:
        base = Caps(in_flight=self.max_in_flight, per_day=self.max_per_day)
        return Limits(base=base, roles=self.role_limits, fast_per_day=self.fast_per_day)

    policy_file: Path | None = Field(
        default=None, description="prompt rules (TOML); unset → default"
    )
    mod_review_channel_id: int | None = Field(
        default=None,
        description="channel where flagged requests and reported clips wait for moderators",
    )
    moderator_role_ids: list[int] = Field(
        default_factory=list,
        description="role ids that may moderate, besides Manage Messages; JSON: [123, 456]",
    )
    report_threshold: int = Field(
        default=3, ge=1, description="distinct members' 🚩 reports that hide a clip for review"
    )
    toxicity_threshold: float | None = Field(
        default=0.9,
        ge=0,
        le=1,
        description="hold a prompt for review when the abuse classifier scores it this high "
        "(intake/toxicity.py; needs reelbot[toxicity]); 0 → off",
    )
    bot_metrics_port: int | None = Field(
        default=None,
        ge=0,
        le=65535,
        description="serve the bot's Prometheus /metrics on this port (all interfaces); "
        "0: any free port, logged; unset: off",
    )
    scan_nsfw_skip: dict[str, list[str]] = Field(
        default_factory=dict,
        description="output-scan categories whose hold NSFW-marked channels skip, per guild id "
        'or "*" for every guild; JSON: {"*": ["nudity", "suggestive"]}. Never minors',
    )

    @field_validator("scan_nsfw_skip")
    @classmethod
    def _never_minors(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for guild, categories in value.items():
            if guild != "*" and not guild.isdigit():
                raise ValueError(f"{guild!r} is not a guild id (or *)")
            if any("minor" in category for category in categories):
                raise ValueError("no channel can skip the output scan's hold for minors")
            if bad := [c for c in categories if not re.fullmatch(r"[a-z_]{1,32}", c)]:
                raise ValueError(f"{bad[0]!r} is not a category (lowercase, like nudity)")
        return value
