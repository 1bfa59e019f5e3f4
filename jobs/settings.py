"""Where jobs travel: the settings every process that enqueues or renders shares."""

from __future__ import annotations

from pydantic import Field

from core.spec import DEFAULT_QUEUE
from gallery.settings import GallerySettings


class QueueSettings(GallerySettings):
    """Where jobs travel; shared by every process that enqueues or renders."""

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
