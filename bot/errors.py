"""The one family of errors whose message is meant for the member who caused it."""

from __future__ import annotations


class UserFacingError(Exception):
    """An error a member can fix; its message is shown to them as is (friendly, no internals)."""


class FlagError(UserFacingError):
    """A prompt's flags could not be read: names the token, what is allowed and the closest fit."""

    def __init__(
        self,
        message: str,
        *,
        token: str = "",
        allowed: str = "",
        suggestion: str | None = None,
    ) -> None:
        self.token = token
        self.allowed = allowed
        self.suggestion = suggestion
        parts = [message]
        if suggestion:
            parts.append(f"Did you mean `{suggestion}`?")
        if allowed:
            parts.append(f"Allowed: {allowed}.")
        super().__init__(" ".join(parts))


class QueueUnavailable(UserFacingError):
    """Redis cannot be reached; the message names the URL (without its password)."""
