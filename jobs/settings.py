"""Where jobs travel: the settings every process that enqueues or renders shares."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from jobs.keys import DEFAULT_QUEUE


class QueueSettings(BaseSettings):
    """Where jobs travel; shared by every process that enqueues or renders.

    A process that also reads the gallery subclasses this and `GallerySettings` together, so one
    `.env` and one set of `REELBOT_` variables configure both."""

    model_config = SettingsConfigDict(
        env_prefix="REELBOT_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    redis_url: str | None = Field(
        default=None,
        description="redis://[:password@]host:port/db; unset: `reelbot up` starts its own",
    )
    queue_name: str = DEFAULT_QUEUE
    job_timeout_s: int = Field(
        default=600, ge=1, description="a render running longer is stopped and retried"
    )
    max_tries: int = Field(default=5, ge=1, description="attempts per clip before it is failed")
    backend: str = Field(default="tiny", description="model family the workers run (tiny, …)")
