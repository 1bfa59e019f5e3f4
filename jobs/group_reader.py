"""One Redis stream read through a consumer group, each entry handled once across processes.

Several processes (bots) read the same stream in one group; each entry is acknowledged only
after its handler returns, so an entry whose process died mid-way stays pending and is taken
over (`XAUTOCLAIM`) once it has been idle for `claim_idle_ms`. A process reads its own pending
entries first (from before a restart). A handler that raises one of the `transient` errors
(Discord's 5xx, a database away) leaves its entry pending and the reader tries again after
`retry_delay_s`; any other error is the entry's own (malformed, a bug it trips): it is logged
and acknowledged, so one bad entry never holds up every entry behind it. Handlers make a second
run harmless (a nonce, a state check), since an entry can be handled again after a crash
between handling and acknowledging.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import ResponseError

log = logging.getLogger(__name__)

Handler = Callable[[str, dict[str, str]], Awaitable[None]]

CLAIM_IDLE_MS = 60_000  # another process's unacknowledged entry is taken over after this long
RETRY_DELAY_S = 5.0
BATCH = 20


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value or "")


class GroupReader:
    """`run` hands each entry of `stream` to `handle(entry_id, fields)` once, then acks it."""

    def __init__(
        self,
        redis: Redis,
        stream: str,
        group: str,
        handle: Handler,
        *,
        consumer: str,
        what: str,
        transient: tuple[type[BaseException], ...] = (Exception,),
        claim_idle_ms: int = CLAIM_IDLE_MS,
        retry_delay_s: float = RETRY_DELAY_S,
    ) -> None:
        self.redis = redis
        self.stream = stream
        self.group = group
        self.handle = handle
        self.consumer = consumer
        self.what = what  # for the log: "member notices"
        self.transient = transient  # left pending and tried again; any other error gives up
        self.claim_idle_ms = claim_idle_ms
        self.retry_delay_s = retry_delay_s

    async def run(self) -> None:
        """Handle entries until cancelled: this consumer's pending ones first, then abandoned
        and new ones. A failure is logged and retried; a group deleted under us is made again."""
        group_ready = False
        own_pending = True
        while True:
            try:
                if not group_ready:
                    await self._ensure_group()
                    group_ready = True
                if own_pending:
                    await self._read("0")
                    own_pending = False
                await self._claim_abandoned()
                await self._read(">", block_ms=2000)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if isinstance(exc, ResponseError) and "NOGROUP" in str(exc):
                    group_ready = False
                own_pending = True
                log.warning("%s: %s; retrying in %.0f s", self.what, exc, self.retry_delay_s)
                await asyncio.sleep(self.retry_delay_s)

    async def _ensure_group(self) -> None:
        try:
            await self.redis.xgroup_create(self.stream, self.group, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def _read(self, start: str, block_ms: int | None = None) -> None:
        replies = await self.redis.xreadgroup(
            self.group, self.consumer, {self.stream: start}, count=BATCH, block=block_ms
        )
        for _stream, entries in replies or []:
            for entry_id, fields in entries:
                await self._handle(entry_id, fields)

    async def _claim_abandoned(self) -> None:
        reply = await self.redis.xautoclaim(
            self.stream,
            self.group,
            self.consumer,
            min_idle_time=self.claim_idle_ms,
            count=BATCH,
        )
        for entry_id, fields in reply[1]:
            await self._handle(entry_id, fields)

    async def _handle(self, entry_id: Any, fields: dict[Any, Any] | None) -> None:
        decoded = {_text(k): _text(v) for k, v in (fields or {}).items()}
        try:
            await self.handle(_text(entry_id), decoded)
        except self.transient:
            raise  # left pending: read again after retry_delay_s
        except Exception:
            log.exception("%s: entry %s can't be handled; giving up on it", self.what, entry_id)
        await self.redis.xack(self.stream, self.group, entry_id)
