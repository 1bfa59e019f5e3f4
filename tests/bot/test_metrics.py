"""The bot's Prometheus metrics: delivery lag, rate limits read from discord.py's warnings, API
errors from the HTTP trace, and the counters wired into a real ReelBot (fake Discord)."""

from __future__ import annotations

import inspect
import logging
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta

import aiohttp
import discord.http
import discord.webhook.async_
import pytest
from aiohttp import web
from discord import app_commands

from bot.metrics import BotMetrics, RateLimitLog, reason_of
from core.errors import ContentHeld, FlagError, QuotaExceeded, UserFacingError
from tests.fakediscord import FakeDiscord
from tests.harness.stack import Stack
from tests.harness.waiting import eventually

pytestmark = pytest.mark.timeout(60)

# discord.py's own messages (discord/http.py, discord/webhook/async_.py), checked against its
# source below so that an upgrade that rewords them fails here instead of silently counting 0.
ROUTE = "We are being rate limited. %s %s responded with 429. Retrying in %.2f seconds."
REFUSED = (
    "We are being rate limited. %s %s responded with 429. Timeout of %.2f was too long, "
    "erroring instead."
)
GLOBAL = "Global rate limit has been hit. Retrying in %.2f seconds."
WEBHOOK = "Webhook ID %s is rate limited. Retrying in %.2f seconds."


def value(metrics: BotMetrics, name: str, **labels: str) -> float | None:
    return metrics.registry.get_sample_value(name, labels)


def test_delivery_lag_runs_from_finished_to_recorded() -> None:
    metrics = BotMetrics()
    metrics.delivered("posted", datetime.now(UTC) - timedelta(seconds=3))
    metrics.delivered("notice", None)  # no finished_at: counted, not timed
    bucket = "reelbot_bot_delivery_lag_seconds_bucket"
    assert value(metrics, bucket, le="2.0") == 0
    assert value(metrics, bucket, le="5.0") == 1
    assert value(metrics, "reelbot_bot_delivery_lag_seconds_count") == 1
    assert value(metrics, "reelbot_bot_deliveries_total", outcome="posted") == 1
    assert value(metrics, "reelbot_bot_deliveries_total", outcome="notice") == 1
    assert value(metrics, "reelbot_bot_deliveries_total", outcome="failed_post") == 0


def test_the_messages_counted_are_discord_pys_own() -> None:
    http, webhook = inspect.getsource(discord.http), inspect.getsource(discord.webhook.async_)
    assert ROUTE in http and GLOBAL in http
    assert "Timeout of %.2f was too long, erroring instead." in http
    assert WEBHOOK in webhook


@pytest.fixture
def counted() -> Iterator[BotMetrics]:
    metrics = BotMetrics()
    handler = RateLimitLog(metrics)
    logging.getLogger("discord").addHandler(handler)
    try:
        yield metrics
    finally:
        logging.getLogger("discord").removeHandler(handler)


def test_rate_limit_warnings_are_counted_with_their_waits(counted: BotMetrics) -> None:
    http = logging.getLogger("discord.http")
    url = "https://discord.com/api/v10/channels/1/messages"
    http.warning(ROUTE, "POST", url, 1.5)
    http.warning(GLOBAL, 1.5)  # the same wait as the line before it
    http.warning(ROUTE, "POST", url, 0.25)
    http.warning(REFUSED, "POST", url, 120.0)
    logging.getLogger("discord.webhook.async_").warning(WEBHOOK, 123, 2.0)
    http.warning("A route (%s) has changed hashes: %s -> %s.", "x", "a", "b")  # not a limit

    def scope(name: str) -> tuple[float | None, float | None]:
        return (
            value(counted, "reelbot_bot_rate_limits_total", scope=name),
            value(counted, "reelbot_bot_rate_limit_wait_seconds_total", scope=name),
        )

    assert scope("route") == (2, 1.75)
    assert scope("global") == (1, None)
    assert scope("refused") == (1, None)
    assert scope("interaction") == (1, 2.0)


def test_requests_and_errors_are_labelled_by_a_short_reason() -> None:
    assert reason_of(FlagError("bad flag", token="-motoin")) == "flags"
    assert reason_of(QuotaExceeded("later", cap="per_day", used=50)) == "quota"
    assert reason_of(ContentHeld("waits for a moderator")) == "held"
    assert reason_of(app_commands.CheckFailure("no")) == "check"
    assert reason_of(UserFacingError("something else")) == "other"
    assert reason_of(RuntimeError("a bug")) == "error"
    metrics = BotMetrics()
    metrics.refused(QuotaExceeded("later", cap="per_day", used=50))
    metrics.accepted()
    assert value(metrics, "reelbot_bot_requests_total", outcome="quota") == 1
    assert value(metrics, "reelbot_bot_requests_total", outcome="accepted") == 1


async def test_api_errors_are_counted_by_status_from_the_http_trace() -> None:
    async def answer(request: web.Request) -> web.Response:
        return web.Response(status=int(request.match_info["status"]))

    app = web.Application()
    app.router.add_get("/{status}", answer)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    port = runner.addresses[0][1]
    metrics = BotMetrics()
    try:
        async with aiohttp.ClientSession(trace_configs=[metrics.http_trace()]) as session:
            for status in (200, 204, 404, 404, 429, 503):
                async with session.get(f"http://127.0.0.1:{port}/{status}") as response:
                    assert response.status == status
    finally:
        await runner.cleanup()
    errors = {
        s.labels["status"]: s.value
        for m in metrics.registry.collect()
        if m.name == "reelbot_bot_discord_api_errors"
        for s in m.samples
        if s.name.endswith("_total")
    }
    assert errors == {"404": 2, "429": 1, "503": 1}


@pytest.fixture
async def stack(redis_server, redis, data_dir) -> AsyncIterator[Stack]:
    s = Stack(redis_server.url, data_dir)
    yield s
    await s.close()


async def test_a_reelbot_counts_its_requests_errors_and_api_failures(stack: Stack) -> None:
    async with FakeDiscord() as fake, fake.running(await stack.new_bot()) as bot:
        metrics: BotMetrics = bot.bot_metrics
        ix = await fake.slash_command("create", {"prompt": "a lighthouse at dusk -seed 3"})
        assert "queued" in (await ix.wait_reply()).content
        # Discord answers the next reply with a 500 once; discord.py retries it
        fake.fail_next("POST", "/interactions/{interaction_id}/{token}/callback", status=500)
        ix = await fake.slash_command("create", {"prompt": "a lighthouse -motion 9"})
        assert (await ix.wait_reply()).ephemeral

        await eventually(
            lambda: value(metrics, "reelbot_bot_error_replies_total", reason="flags"),
            lambda v: v == 1,
        )
        assert value(metrics, "reelbot_bot_requests_total", outcome="accepted") == 1
        assert value(metrics, "reelbot_bot_discord_api_errors_total", status="500") == 1
