"""The one family of errors whose message is meant for the member who caused it."""

from __future__ import annotations

MAX_MESSAGE = 600  # Discord messages stop at 2,000 characters; an error needs far fewer
MAX_SHOWN = 80


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
        self.token = token[:MAX_SHOWN]
        self.allowed = allowed
        self.suggestion = suggestion
        if len(message) > MAX_MESSAGE:  # a pasted wall of text must not make an unsendable reply
            message = message[: MAX_MESSAGE - 1] + "…"
        parts = [message]
        if suggestion:
            parts.append(f"Did you mean `{suggestion}`?")
        if allowed:
            parts.append(f"Allowed: {allowed}.")
        super().__init__(" ".join(parts))


class ConfigError(UserFacingError):
    """The operator's settings are wrong: says which setting and what it should look like."""


class QueueUnavailable(UserFacingError):
    """Redis cannot be reached; the message names the URL (without its password)."""


class ContentBlocked(UserFacingError):
    """The prompt policy refused a request; the message is the rule's reason for the member."""


class ContentHeld(UserFacingError):
    """The prompt policy flagged a request: it waits for a moderator (not a failure as such)."""


class MemberBanned(UserFacingError):
    """A moderator banned this member from asking for clips; the message says until when."""


class QuotaExceeded(UserFacingError):
    """A member is over a cap (`core.fairshare.QuotaExceeded`, its text written for them)."""

    def __init__(self, message: str, *, cap: str, used: int) -> None:
        self.cap = cap
        self.used = used
        super().__init__(message)


# What the member reads when their finished clip is blocked (never the scores: those are for
# moderators, and would teach someone how to get under the threshold).
BLOCKED_MESSAGE = "the finished clip didn't pass this server's content check, so it was not posted"
