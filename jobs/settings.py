"""Where jobs travel: the settings every process that enqueues or renders shares, and how any
process loads its settings (a ConfigError a line per bad variable, never a traceback)."""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar
from urllib.parse import parse_qs, urlsplit

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict, SettingsError

from core.settings_errors import settings_error
from core.spec import DEFAULT_QUALITY, Quality
from jobs.keys import DEFAULT_QUEUE

S = TypeVar("S", bound=BaseSettings)

REDIS_URL_SHAPE = "redis://[:password@]host:6379/0 (rediss:// for TLS, unix:///path/redis.sock)"


def load_settings(cls: type[S]) -> S:
    """`cls()` from the environment and `.env`, or a ConfigError naming each bad variable."""
    try:
        return cls()
    except (ValidationError, SettingsError) as exc:
        raise settings_error(exc) from None


def redis_url_problem(url: str) -> str | None:
    """Why redis-py and arq could not use `url`, or None; never repeats the URL (a password)."""
    try:
        parts = urlsplit(url)
        port = parts.port  # ValueError: not a number, or out of range
    except ValueError as exc:  # its text may quote part of a password: not repeated
        if "port" in str(exc).lower():
            return "the port after the host must be a number from 1 to 65535"
        return "its address can't be read (a stray '[', ']' or '@'?)"
    if parts.scheme not in {"redis", "rediss", "unix"}:
        return "it must start with redis://, rediss:// or unix://"
    if parts.scheme == "unix":
        return None if parts.path else "a unix:// URL needs the socket's path"
    if port == 0:
        return "port 0 is no Redis port"
    db = parse_qs(parts.query).get("db", [parts.path.strip("/") or "0"])[0]
    if not db.isdigit():
        return "the database after the host must be a number (/0)"
    return None


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
    styles_file: Path | None = Field(
        default=None,
        description="styles and effects (TOML: LoRAs per family, prompt text; README, "
        "'Characters, styles and effects'); unset: the built-in words-only styles",
    )
    default_quality: Quality = Field(
        default=DEFAULT_QUALITY,
        description="fast or hq: how a clip asked for with neither -fast nor -hq renders (fast: "
        "the family's fast recipe, fewer steps; hq: the full schedule)",
    )

    @field_validator("redis_url")
    @classmethod
    def _a_redis_url(cls, url: str | None) -> str | None:
        if url is None or not url.strip():
            return None  # unset, as an empty line in .env means
        problem = redis_url_problem(url.strip())
        if problem:
            raise ValueError(f"not a Redis URL: {problem}; it should look like {REDIS_URL_SHAPE}")
        return url.strip()
