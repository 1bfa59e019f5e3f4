"""Sending the outbox: claim due deliveries, POST each signed, record what came back.

Each attempt is one POST of the stored body with fresh Standard Webhooks headers (the same
`webhook-id` on every attempt), through `addresses.checked_session`: the host resolved and every
address checked now, the connection made to a checked address, no redirect followed, the answer
read no further than `MAX_ANSWER_BYTES`, and `timeout_s` at most. A 2xx is delivered; anything
else is a failure the outbox retries later (exponential backoff, jitter, about a day). When an
endpoint is turned off after a day of failures, its owner is told by DM through the bot
(`jobs.member_notices`).

`run_webhooks(ctx)` runs the relay and this loop in every API process; the leases and the
conditional UPDATEs make them share the work without sending anything twice, and a process
killed mid-delivery leaves its claims to be retried once their lease ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta

import aiohttp
from aiohttp.abc import AbstractResolver
from redis.asyncio import Redis

from api.context import ApiContext
from api.webhooks.addresses import (
    AddressPolicy,
    AddressRefused,
    check_url,
    checked_session,
    shown_url,
)
from api.webhooks.relay import Relay
from api.webhooks.signing import signed_headers
from gallery.webhook_outbox import Claimed, Disabled, Outbox, Retry
from jobs.batching import Batcher
from jobs.member_notices import notify_member

log = logging.getLogger(__name__)

MAX_ANSWER_BYTES = 4096
USER_AGENT = "reelbot-webhooks/1"


@dataclass(frozen=True)
class WebhookConfig:
    """How deliveries are paced. The defaults are the product's; tests shorten them."""

    retry: Retry = field(default_factory=Retry)
    poll_s: float = 0.5  # how often the relay and the delivery loop look for work
    sweep_s: float = 30.0  # how often the relay reads every unfinished clip
    lease: timedelta = timedelta(seconds=60)  # longer than an attempt can take
    timeout_s: float = 10.0  # one attempt, connect to last byte read
    batch: int = 50  # claimed at once
    resolver: AbstractResolver | None = None  # tests: a fixed DNS; None: the system's


def disabled_notice(disabled: Disabled) -> str:
    """What the member reads when their endpoint is turned off."""
    return (
        f"Your reelbot webhook endpoint {shown_url(disabled.url)} (`{disabled.endpoint_id}`) "
        "has failed every delivery for a day, so it has been turned off and its waiting events "
        "dropped. Fix the receiver (it must answer 2xx within 10 seconds, without redirects), "
        f"then turn it back on with `POST /v1/webhooks/{disabled.endpoint_id}/enable`."
    )


class Deliverer:
    def __init__(
        self,
        outbox: Outbox,
        policy: AddressPolicy,
        redis: Redis,
        config: WebhookConfig | None = None,
    ) -> None:
        self.outbox = outbox
        self.policy = policy
        self.redis = redis
        self.config = config or WebhookConfig()
        self._wake = asyncio.Event()
        self._full = False  # the last claim took every free slot: more may be due
        # A burst's 2xx answers are recorded a few transactions at a time, not one each.
        self._delivered: Batcher[Claimed, None] = Batcher(self._mark_delivered)

    def kick(self) -> None:
        """New events are in the outbox (this process's relay wrote them): claim them now."""
        self._wake.set()

    async def run(self) -> None:
        """Deliver until cancelled, up to `batch` attempts in flight: a slow receiver holds up
        only its own deliveries. The loop claims again as soon as half its slots are free
        after a claim that filled them (more may be due), or when the relay writes new events
        (`kick`); else every `poll_s` (retries that came due, other processes' events). A
        failure to reach the database is logged and retried."""
        config = self.config
        in_flight: set[asyncio.Task[None]] = set()

        def finished(task: asyncio.Task[None]) -> None:
            in_flight.discard(task)
            if self._full and len(in_flight) <= config.batch // 2:
                self._wake.set()

        async with checked_session(
            self.policy, resolver=config.resolver, timeout_s=config.timeout_s
        ) as http:
            try:
                while True:
                    self._wake.clear()  # before the claim: a kick during it is not lost
                    claimed: list[Claimed] = []
                    free = config.batch - len(in_flight)
                    try:
                        if free > 0:
                            claimed = await asyncio.to_thread(
                                self.outbox.claim_due, limit=free, lease=config.lease
                            )
                    except Exception:
                        log.exception("webhook delivery loop failed; retrying")
                    for one in claimed:
                        task = asyncio.create_task(self.deliver(http, one))
                        in_flight.add(task)
                        task.add_done_callback(finished)
                    self._full = free <= 0 or len(claimed) == free
                    if self._full and len(in_flight) <= config.batch // 2:
                        continue  # all done already (a fast receiver): claim again at once
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(config.poll_s):
                            await self._wake.wait()
            finally:
                for task in in_flight:
                    task.cancel()
                await asyncio.gather(*in_flight, return_exceptions=True)

    async def _mark_delivered(self, claims: Sequence[Claimed]) -> list[None]:
        await asyncio.to_thread(self.outbox.mark_many_delivered, claims)
        return [None] * len(claims)

    async def deliver(self, http: aiohttp.ClientSession, claimed: Claimed) -> None:
        """One attempt, and its outcome recorded (a failure to record it is logged: the lease
        ends and the attempt is made again)."""
        try:
            await self._deliver(http, claimed)
        except Exception:
            log.exception("clip %s: webhook %s not recorded", claimed.generation_id, claimed.id)

    async def _deliver(self, http: aiohttp.ClientSession, claimed: Claimed) -> None:
        if claimed.stopped is not None:
            await asyncio.to_thread(self.outbox.give_up, claimed, claimed.stopped)
            return
        error = await self.attempt(http, claimed)
        if error is None:
            await self._delivered(claimed)
            return
        log.info(
            "clip %s: webhook %s to %s failed (attempt %d): %s",
            claimed.generation_id,
            claimed.event,
            shown_url(claimed.url),
            claimed.attempts,
            error,
        )
        disabled = await asyncio.to_thread(self.outbox.record_failure, claimed, error)
        if disabled is not None:
            log.warning("webhook endpoint %s turned off after a day failing", disabled.endpoint_id)
            await notify_member(self.redis, disabled.member_id, disabled_notice(disabled))

    async def attempt(self, http: aiohttp.ClientSession, claimed: Claimed) -> str | None:
        """POST the event; None for a 2xx, else what went wrong, in words for the member."""
        try:
            url = check_url(claimed.url, self.policy)  # the settings may have changed
            body = claimed.payload.encode()
            headers = signed_headers(claimed.secret, claimed.id, body)
            headers |= {"Content-Type": "application/json", "User-Agent": USER_AGENT}
            async with http.post(url, data=body, headers=headers, allow_redirects=False) as answer:
                await answer.content.read(MAX_ANSWER_BYTES)  # no further: it may never end
                if 200 <= answer.status < 300:
                    return None
                if 300 <= answer.status < 400:
                    return f"HTTP {answer.status}: redirects are not followed; give the final URL"
                return f"HTTP {answer.status}"
        except AddressRefused as exc:
            return str(exc)
        except TimeoutError:
            return f"no answer within {self.config.timeout_s:g} s"
        except aiohttp.ClientError as exc:
            cause = exc.__cause__ if isinstance(exc.__cause__, AddressRefused) else None
            return str(cause) if cause else f"{type(exc).__name__}: {exc}"[:300]


async def run_webhooks(ctx: ApiContext, config: WebhookConfig | None = None) -> None:
    """The relay and the delivery loop of one API process, until cancelled."""
    config = config or WebhookConfig()
    outbox = Outbox(ctx.engine, config.retry)
    policy = AddressPolicy(
        allow_http=ctx.settings.api_webhook_allow_http,
        allow_private=ctx.settings.api_webhook_allow_private,
    )
    deliverer = Deliverer(outbox, policy, ctx.queue, config)
    relay = Relay(
        outbox, ctx, poll_s=config.poll_s, sweep_s=config.sweep_s, on_written=deliverer.kick
    )
    async with asyncio.TaskGroup() as group:
        group.create_task(relay.run(), name="webhook-relay")
        group.create_task(deliverer.run(), name="webhook-delivery")
