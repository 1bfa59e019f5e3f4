"""Prometheus metrics of the bot: delivery lag and outcomes, Discord API errors and rate limits,
requests accepted or refused, errors the members were shown.

Each bot has its own registry (as `gallery.metrics`), served on `REELBOT_BOT_METRICS_PORT` by
`jobs.metrics_endpoint.MetricsEndpoint`. Discord API errors come from an aiohttp trace on
discord.py's
HTTP session (interaction replies use the same session). Rate limits come from discord.py's own
warnings, its only report of them: `RateLimitLog` counts those records.
"""

from __future__ import annotations

import logging
import re
import time
from datetime import datetime
from types import SimpleNamespace

import aiohttp
from discord import app_commands
from prometheus_client import CollectorRegistry, Counter, Histogram

from core.errors import (
    ContentBlocked,
    ContentHeld,
    FlagError,
    MemberBanned,
    QueueUnavailable,
    QuotaExceeded,
    UserFacingError,
)
from jobs.metrics_endpoint import MetricsEndpoint

LAG_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0, 1800.0)
DELIVERY_OUTCOMES = ("posted", "notice", "failed_post", "retried")
# Most specific first: a refusal is labelled by the first class it is an instance of.
REASONS: tuple[tuple[type[BaseException], str], ...] = (
    (FlagError, "flags"),
    (QuotaExceeded, "quota"),
    (MemberBanned, "banned"),
    (ContentBlocked, "blocked"),
    (ContentHeld, "held"),
    (QueueUnavailable, "queue_unavailable"),
    (app_commands.CheckFailure, "check"),
    (app_commands.TransformerError, "input"),
    (UserFacingError, "other"),
)
RETRY_IN = re.compile(r"(?:Retrying in|waiting) ([0-9.]+) seconds")


def reason_of(error: BaseException) -> str:
    """A short, bounded label for why a member was refused ("error": not their doing)."""
    return next((label for cls, label in REASONS if isinstance(error, cls)), "error")


class BotMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.delivery_lag = Histogram(
            "reelbot_bot_delivery_lag_seconds",
            "From a clip's finished_at (done or failed) to its Discord message id being recorded.",
            buckets=LAG_BUCKETS,
            registry=self.registry,
        )
        self.deliveries = Counter(
            "reelbot_bot_deliveries",
            "Results handled by delivery: posted (the clip, or a failed render's message), "
            "notice (a moderated clip's notice), failed_post (Discord refused; given up), "
            "retried (Discord 5xx/429; tried again).",
            ["outcome"],
            registry=self.registry,
        )
        for outcome in DELIVERY_OUTCOMES:
            self.deliveries.labels(outcome)
        self.api_errors = Counter(
            "reelbot_bot_discord_api_errors",
            "Discord HTTP API answers with status 400 or more (429 included), by status.",
            ["status"],
            registry=self.registry,
        )
        self.rate_limits = Counter(
            "reelbot_bot_rate_limits",
            "Rate limits discord.py reported, by scope: route, interaction (webhook), global, "
            "gateway, refused (the wait was over discord.py's maximum: the call failed).",
            ["scope"],
            registry=self.registry,
        )
        self.rate_limit_seconds = Counter(
            "reelbot_bot_rate_limit_wait_seconds",
            "Seconds discord.py said it would wait for rate limits, by scope.",
            ["scope"],
            registry=self.registry,
        )
        self.requests = Counter(
            "reelbot_bot_requests",
            "Clip requests that reached submission: accepted (queued), or refused by reason "
            "(quota, banned, blocked, held for review, ...).",
            ["outcome"],
            registry=self.registry,
        )
        self.error_replies = Counter(
            "reelbot_bot_error_replies",
            "Private error replies to members, by reason (flags, quota, ...; error: a bug or "
            "outage, answered with a reference).",
            ["reason"],
            registry=self.registry,
        )

    def delivered(self, outcome: str, finished_at: datetime | None) -> None:
        """A result's message was posted and recorded now."""
        self.deliveries.labels(outcome).inc()
        if finished_at is not None:
            self.delivery_lag.observe(max(0.0, time.time() - finished_at.timestamp()))

    def accepted(self) -> None:
        self.requests.labels("accepted").inc()

    def refused(self, error: BaseException) -> None:
        self.requests.labels(reason_of(error)).inc()

    def error_reply(self, error: BaseException) -> None:
        self.error_replies.labels(reason_of(error)).inc()

    def http_trace(self) -> aiohttp.TraceConfig:
        """For `discord.Client(http_trace=...)`: counts every API answer of 400 or more."""

        async def on_request_end(
            session: aiohttp.ClientSession,
            context: SimpleNamespace,
            params: aiohttp.TraceRequestEndParams,
        ) -> None:
            if params.response.status >= 400:
                self.api_errors.labels(str(params.response.status)).inc()

        trace = aiohttp.TraceConfig()
        trace.on_request_end.append(on_request_end)
        return trace

    async def serve(self, port: int) -> MetricsEndpoint:
        endpoint = MetricsEndpoint(self.registry)
        await endpoint.start(port)
        return endpoint


class RateLimitLog(logging.Handler):
    """Counts discord.py's rate-limit warnings; attach it to the `discord` logger.

    The messages (discord.py 2.x): `discord.http` "We are being rate limited. … Retrying in N
    seconds." (or "… Timeout of N was too long, erroring instead."), then for a global limit
    "Global rate limit has been hit. Retrying in N seconds." (the same wait: not added twice);
    `discord.webhook.async_` (interaction replies) "Webhook ID … is rate limited. Retrying in N
    seconds."; `discord.gateway` "WebSocket in shard ID … is ratelimited, waiting N seconds".
    """

    def __init__(self, metrics: BotMetrics) -> None:
        super().__init__(logging.WARNING)
        self.metrics = metrics

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = record.getMessage()
        except Exception:  # a malformed record is not ours to report
            return
        scope = _scope(record.name, text)
        if scope is None:
            return
        self.metrics.rate_limits.labels(scope).inc()
        wait = RETRY_IN.search(text)
        if wait is not None and scope != "global":
            self.metrics.rate_limit_seconds.labels(scope).inc(float(wait[1]))


def _scope(logger: str, text: str) -> str | None:
    if logger == "discord.http":
        if text.startswith("Global rate limit"):
            return "global"
        if text.startswith("We are being rate limited"):
            return "refused" if "erroring instead" in text else "route"
    elif logger.startswith("discord.webhook") and "is rate limited" in text:
        return "interaction"
    elif logger == "discord.gateway" and "is ratelimited" in text:
        return "gateway"
    return None
