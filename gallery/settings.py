"""Settings the gallery needs, shared by every process that touches the gallery database.

The bot's and the worker's settings classes subclass `GallerySettings`, so one `.env` file and
one set of `REELBOT_` variables configure the database and the media folder for all of them.
Nothing is read at import time: an entry point builds the settings and passes them down.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from core.errors import ConfigError

# Shorter admin tokens could be guessed; 32 characters is what `openssl rand -hex 16` prints.
MIN_ADMIN_TOKEN = 32


class GallerySettings(BaseSettings):
    """Where the gallery keeps its rows and files, and where its web pages are served."""

    model_config = SettingsConfigDict(
        env_prefix="REELBOT_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    data_dir: Path = Path("reelbot-data")
    database_url: str | None = None
    media_dir: Path | None = None
    # "s3": clip files also go to an S3-compatible bucket (AWS, R2, MinIO, …); `media_dir` is
    # then the local working copy. The gallery redirects to a presigned URL, or to
    # `s3_public_url` + key when a CDN / public bucket serves them. Needs the `s3` extra.
    media_store: Literal["local", "s3"] = "local"
    s3_endpoint_url: str | None = None  # None: AWS itself
    s3_bucket: str | None = None
    s3_region: str | None = None
    s3_access_key_id: str | None = None  # None (both): boto3's usual credential chain
    s3_secret_access_key: SecretStr | None = None
    s3_public_url: str | None = None
    gallery_host: str = "127.0.0.1"
    gallery_port: int = 8080
    public_url: str | None = None
    # The moderators' web view (/admin) is off unless a token is set (MIN_ADMIN_TOKEN or more).
    admin_token: SecretStr | None = None
    # Prometheus /metrics on this port of `gallery_host`, never on the public port; unset: off.
    gallery_metrics_port: int | None = Field(default=None, ge=0, le=65535)

    def resolved_database_url(self) -> str:
        """The configured URL, or a SQLite file inside `data_dir` (the zero-setup default)."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'reelbot.db'}"

    def resolved_admin_token(self) -> str | None:
        """The admin token (None: unset or empty, the admin view is off); a ConfigError when it
        is too short."""
        token = self.admin_token.get_secret_value() if self.admin_token else ""
        if not token:
            return None
        if len(token) < MIN_ADMIN_TOKEN:
            raise ConfigError(
                f"REELBOT_ADMIN_TOKEN: {len(token)} characters is too short to resist guessing; "
                f"use at least {MIN_ADMIN_TOKEN} (e.g. the output of `openssl rand -hex 32`)."
            )
        return token

    def resolved_media_dir(self) -> Path:
        """The configured media folder, or `data_dir/media`."""
        return self.media_dir if self.media_dir is not None else self.data_dir / "media"

    def resolved_public_url(self) -> str:
        """The base URL put into links people click (Discord posts, OpenGraph tags), no slash."""
        if self.public_url:
            return self.public_url.rstrip("/")
        host = self.gallery_host
        if ":" in host:  # an IPv6 literal needs brackets in a URL
            host = f"[{host}]"
        return f"http://{host}:{self.gallery_port}"
