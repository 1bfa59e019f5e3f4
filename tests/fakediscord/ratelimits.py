"""Discord's REST rate limits, as a bot meets them: per-route buckets, a global limit, 429s.

Off unless a test passes `FakeDiscord(rate_limits=RateLimits.discord())`: without limits the
fake sends no rate-limit headers, as before, so no other test changes speed or behaviour.

What Discord does and the fake copies (https://discord.com/developers/docs/topics/rate-limits):
- A bucket is a route's limit per major parameter (channel, guild, or webhook id + token): its
  counter fills from the first request of a window and empties `per_s` seconds later.
- Every answer on a limited route carries `X-RateLimit-Limit/Remaining/Reset/Reset-After/Bucket`;
  discord.py reads them and waits on its own before a bucket runs out.
- A request over a limit gets 429 `{"message", "retry_after", "global"}` with `Retry-After`,
  `X-RateLimit-Scope` and `Via` (discord.py treats a 429 without `Via` as Cloudflare's ban).
- 50 requests a second in all (the global limit); interaction callbacks and the interaction
  webhook (followups, original response) are outside it.
- Creating and editing messages in a channel answer with one bucket hash but count apart, 5 in
  5 s each (discord/discord-api-docs#1442, #8073). discord.py files both under that hash, so a
  channel's posts and edits share one of its queues: edits that outrun their limit hold posts.

Every 429 is kept in `Limiter.hits` (and the log, as `rate_limited`): discord.py waits for the
headers' word, so a 429 means the bot sent past what it had been told, or two paths raced.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

WEBHOOK_ROUTES = "/webhooks/"
CALLBACK_ROUTES = "/interactions/"


@dataclass(frozen=True)
class Rule:
    """A route's limit. Routes with the same `bucket` answer with one hash; routes with the same
    `counter` also count together (Discord's shared limits, e.g. the reaction routes)."""

    limit: int
    per_s: float
    bucket: str
    counter: str = ""

    @property
    def counts_as(self) -> str:
        return self.counter or self.bucket

    @property
    def hash(self) -> str:
        return hashlib.md5(self.bucket.encode()).hexdigest()  # looks like Discord's


MESSAGES = "/channels/{channel_id}/messages"
MESSAGE = MESSAGES + "/{message_id}"
REACTIONS = MESSAGE + "/reactions"
WEBHOOK = "/webhooks/{app_id}/{token}"


def discord_rules() -> dict[tuple[str, str], Rule]:
    """The limits Discord answers with for the routes this bot uses (observed values)."""
    reactions = Rule(1, 0.25, "reactions")
    interaction_webhook = Rule(5, 2.0, "interaction-webhook")
    return {
        ("POST", MESSAGES): Rule(5, 5.0, "messages", counter="create"),
        ("PATCH", MESSAGE): Rule(5, 5.0, "messages", counter="edit"),
        ("DELETE", MESSAGE): Rule(5, 1.0, "delete"),
        ("PUT", REACTIONS + "/{emoji}/{user}"): reactions,
        ("DELETE", REACTIONS + "/{emoji}/{user}"): reactions,
        ("POST", WEBHOOK): interaction_webhook,
        ("PATCH", WEBHOOK + "/messages/{message_id}"): interaction_webhook,
        ("DELETE", WEBHOOK + "/messages/{message_id}"): interaction_webhook,
    }


@dataclass
class RateLimits:
    """Which limits the fake enforces. `default` is every other route's, per route; None there
    or in `global_per_s` turns that part off."""

    rules: Mapping[tuple[str, str], Rule] = field(default_factory=discord_rules)
    default: tuple[int, float] | None = (10, 1.0)
    global_per_s: int | None = 50

    @classmethod
    def discord(cls) -> RateLimits:
        """Discord's limits, as a bot in production meets them."""
        return cls()

    def rule(self, method: str, route: str) -> Rule | None:
        if route.startswith(CALLBACK_ROUTES):
            return None  # interaction callbacks: no bucket, no headers
        found = self.rules.get((method, route))
        if found is None and self.default is not None:
            limit, per_s = self.default
            found = Rule(limit, per_s, f"{method} {route}")
        return found


@dataclass
class Window:
    """One counter: how many requests it took since `ends - per_s`."""

    ends: float = -math.inf
    used: int = 0


@dataclass
class Hit:
    """A request the fake answered 429."""

    at: float
    method: str
    path: str
    route: str
    scope: str  # "user" (a route's bucket) or "global"
    retry_after: float
    rule: Rule | None = None  # the route's, when its bucket was full


@dataclass
class Allowed:
    """A request within its limits: the headers its answer carries (none off any bucket)."""

    rule: Rule | None = None
    window: Window | None = None
    remaining: int = 0

    def headers(self, now: float) -> dict[str, str]:
        if self.rule is None or self.window is None:
            return {"Via": "1.1 google"}
        reset_after = max(0.0, self.window.ends - now)
        return {
            "Via": "1.1 google",
            "X-RateLimit-Limit": str(self.rule.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": f"{time.time() + reset_after:.3f}",
            # rounded up: a client that waits this long finds the window over, never just before
            "X-RateLimit-Reset-After": f"{math.ceil(reset_after * 1000) / 1000:.3f}",
            "X-RateLimit-Bucket": self.rule.hash,
        }


class Limiter:
    """The fake's counters, on its clock; `check` decides each request before it is handled."""

    def __init__(self, limits: RateLimits, clock: Callable[[], float]) -> None:
        self.limits = limits
        self.clock = clock
        self.windows: dict[tuple[str, str], Window] = {}
        self.hits: list[Hit] = []

    def check(
        self, method: str, route: str, path: str, params: Mapping[str, str], *, app_id: int
    ) -> Allowed | Hit:
        now = self.clock()
        interaction = route.startswith(CALLBACK_ROUTES) or (
            route.startswith(WEBHOOK_ROUTES) and params.get("app_id") == str(app_id)
        )
        if self.limits.global_per_s is not None and not interaction:
            over = self._take(("global", ""), self.limits.global_per_s, 1.0, now)
            if over is not None:
                return self._hit(now, method, path, route, "global", over)
        rule = self.limits.rule(method, route)
        if rule is None:
            return Allowed()
        window = self.windows.setdefault((rule.counts_as, major(params)), Window())
        over = self._take_window(window, rule.limit, rule.per_s, now)
        if over is not None:
            return self._hit(now, method, path, route, "user", over, rule)
        return Allowed(rule, window, rule.limit - window.used)

    def _take(self, key: tuple[str, str], limit: int, per_s: float, now: float) -> float | None:
        return self._take_window(self.windows.setdefault(key, Window()), limit, per_s, now)

    @staticmethod
    def _take_window(window: Window, limit: int, per_s: float, now: float) -> float | None:
        """Count one request; the seconds until the window ends if it is full (not counted)."""
        if now >= window.ends:
            window.ends, window.used = now + per_s, 0
        if window.used >= limit:
            return window.ends - now
        window.used += 1
        return None

    def _hit(
        self,
        now: float,
        method: str,
        path: str,
        route: str,
        scope: str,
        retry_after: float,
        rule: Rule | None = None,
    ) -> Hit:
        hit = Hit(now, method, path, route, scope, retry_after, rule)
        self.hits.append(hit)
        return hit


def major(params: Mapping[str, str]) -> str:
    """The route's major parameter, as Discord and discord.py key buckets by it."""
    if "channel_id" in params:
        return params["channel_id"]
    if "guild_id" in params:
        return params["guild_id"]
    if "token" in params and "app_id" in params:
        return f"{params['app_id']}+{params['token']}"
    return ""


def too_many(hit: Hit) -> tuple[dict[str, Any], dict[str, str]]:
    """The 429's body and headers, as Discord sends them."""
    body = {
        "message": "You are being rate limited.",
        "retry_after": round(hit.retry_after, 3),
        "global": hit.scope == "global",
    }
    headers = {
        "Via": "1.1 google",
        "Retry-After": str(math.ceil(hit.retry_after)),
        "X-RateLimit-Scope": hit.scope,
    }
    if hit.scope == "global":
        headers["X-RateLimit-Global"] = "true"
    elif hit.rule is not None:
        headers |= {
            "X-RateLimit-Limit": str(hit.rule.limit),
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": f"{time.time() + hit.retry_after:.3f}",
            "X-RateLimit-Reset-After": f"{math.ceil(hit.retry_after * 1000) / 1000:.3f}",
            "X-RateLimit-Bucket": hit.rule.hash,
        }
    return body, headers
