"""Settings of the REST API process (`reelbot api`): where it listens, how it is reached, and
what it lets a token do. The caps, policy and classifier are the bot's (`IntakeSettings`), so a
member is capped the same whichever front end they ask through."""

from __future__ import annotations

from pydantic import Field

from intake.settings import IntakeSettings

# A /restyle video is up to 25 MiB; the multipart framing and the other fields fit in the rest.
DEFAULT_MAX_BODY = 26 * 1024 * 1024


class ApiSettings(IntakeSettings):
    api_host: str = Field(default="127.0.0.1", description="address the REST API listens on")
    api_port: int = Field(default=8081, ge=0, le=65535, description="port the REST API listens on")
    api_public_url: str | None = Field(
        default=None,
        description="base of the API's own links (self, events, cancel); unset: http://host:port",
    )
    api_rate_per_min: int = Field(
        default=60, ge=1, description="writes (POST) one token may make a minute; more get 429"
    )
    api_max_body_bytes: int = Field(
        default=DEFAULT_MAX_BODY,
        ge=1024,
        description="largest request body the API reads (an upload included); more get 413",
    )
    api_webhook_allow_http: bool = Field(
        default=False, description="allow http:// webhook URLs (local testing only)"
    )
    api_webhook_allow_private: bool = Field(
        default=False,
        description="allow webhook URLs that resolve to loopback or private addresses (local "
        "testing only)",
    )

    def resolved_api_url(self) -> str:
        """The base URL of the API's links, no trailing slash."""
        if self.api_public_url:
            return self.api_public_url.rstrip("/")
        host = self.api_host
        if host in ("0.0.0.0", "::"):  # listening everywhere: links name this machine
            host = "127.0.0.1"
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.api_port}"
