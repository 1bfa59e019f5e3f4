"""Settings of the bot and the `reelbot` command (`REELBOT_` environment variables or `.env`)."""

from __future__ import annotations

import re

from pydantic import Field, SecretStr, field_validator

from core.fleet import parse_workers
from intake.settings import IntakeSettings


class BotSettings(IntakeSettings):
    """The bot's own settings; the caps, policy and classifier are `IntakeSettings`' (the REST
    API reads the same)."""

    discord_token: SecretStr | None = Field(default=None, description="bot token; unset → no bot")
    workers: int | str = Field(
        default=1,
        description="local workers `reelbot up` starts: a count of REELBOT_BACKEND's, or "
        "family:count pairs for a mixed fleet (ltx:1,wan_vace:1)",
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

    @field_validator("workers")
    @classmethod
    def _a_worker_plan(cls, value: int | str) -> int | str:
        if isinstance(value, int) and not 0 <= value <= 64:
            raise ValueError("from 0 to 64 workers")
        parse_workers(value, "tiny")  # the family does not matter for the shape
        return value

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
