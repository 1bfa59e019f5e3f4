"""Settings of the bot and the `reelbot` command (`REELBOT_` environment variables or `.env`)."""

from __future__ import annotations

from pydantic import Field, SecretStr

from worker.settings import QueueSettings


class BotSettings(QueueSettings):
    discord_token: SecretStr | None = Field(default=None, description="bot token; unset → no bot")
    workers: int = Field(default=1, ge=0, le=64, description="local workers `reelbot up` starts")
