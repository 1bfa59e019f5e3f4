"""The bot's Redis pool is bounded: a burst shares a few connections instead of opening one each."""

from __future__ import annotations

import asyncio

from redis.asyncio import BlockingConnectionPool

from bot.local_redis import LocalRedis
from bot.submit import REDIS_CONNECTIONS, connect_queue


async def test_a_burst_of_commands_shares_a_bounded_set_of_connections(
    redis_server: LocalRedis,
) -> None:
    pool = await connect_queue(redis_server.url)
    try:
        assert isinstance(pool.connection_pool, BlockingConnectionPool)
        before = await pool.client_list()

        async def one(i: int) -> None:
            # a blocking pop that times out holds its connection for a moment, so without a
            # bound each of these would open a connection of its own
            await pool.blpop([f"reelbot-test:empty:{i}"], timeout=0.05)

        await asyncio.gather(*(one(i) for i in range(REDIS_CONNECTIONS * 3)))
        opened = len(await pool.client_list()) - len(before)
        assert 1 <= opened <= REDIS_CONNECTIONS
        assert await pool.ping()  # the settings (host, db) came over to the new pool
    finally:
        await pool.aclose()
