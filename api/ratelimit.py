"""Each token's writes a minute (REELBOT_API_RATE_PER_MIN), counted in Redis so every API
process shares one count: a fixed window per minute (`jobs.keys.api_rate_key`), INCR and EXPIRE
sent in the round trips concurrent requests share (`jobs.pipelined.PipelinedRedis`: a pipeline
of one's own per request cost more than the rest of the request's Redis work). Past the limit
a write is a 429 with Retry-After, the seconds until the minute turns; reads are not counted
(the caps and the fair queue bound the work a token can ask for, whatever its rate)."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable

from api.problems import Problem
from jobs.keys import api_rate_key
from jobs.pipelined import PipelinedRedis

WINDOW_S = 60


class RateLimit:
    def __init__(
        self, redis: PipelinedRedis, per_minute: int, *, clock: Callable[[], float] = time.time
    ) -> None:
        self.redis = redis
        self.per_minute = per_minute
        self.clock = clock

    async def hit(self, token_id: str) -> None:
        """Count one write of `token_id`'s; a 429 problem when it is one too many."""
        now = self.clock()
        window = int(now // WINDOW_S)
        key = api_rate_key(token_id, window)
        count, _ = await asyncio.gather(
            self.redis.execute_command("INCR", key),
            self.redis.execute_command("EXPIRE", key, 2 * WINDOW_S),
        )
        if int(count) <= self.per_minute:
            return
        retry = max(1, math.ceil((window + 1) * WINDOW_S - now))
        raise Problem(
            429,
            "Too many requests",
            f"This token may make {self.per_minute} requests that change something a minute; "
            f"try again in {retry} s.",
            "rate-limited",
            headers={"Retry-After": str(retry)},
            limit=self.per_minute,
        )
