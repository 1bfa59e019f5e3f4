"""Commands of concurrent requests share pipelines against a real Redis, with their own answers."""

from __future__ import annotations

import asyncio

import pytest
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError

from jobs.pipelined import PipelinedRedis

COUNT = "return redis.call('INCRBY', KEYS[1], ARGV[1])"


class Checkouts:
    """Counts connections taken from the client's pool: one per round trip of a batch."""

    def __init__(self, client: Redis) -> None:
        self.count = 0
        pool = client.connection_pool
        take = pool.get_connection

        async def counted():  # type: ignore[no-untyped-def]
            self.count += 1
            return await take()

        pool.get_connection = counted  # type: ignore[method-assign]


@pytest.fixture
async def client(redis, redis_server) -> Redis:  # type: ignore[no-untyped-def]
    own = Redis.from_url(redis_server.url)
    yield own
    await own.aclose()


async def test_a_burst_of_commands_takes_few_round_trips_and_each_gets_its_answer(client) -> None:
    pipelined = PipelinedRedis(client, max_batch=100)
    script = client.register_script(COUNT)
    checkouts = Checkouts(client)
    sets = [pipelined.execute_command("SET", f"k{i}", i) for i in range(250)]
    adds = [pipelined.run_script(script, keys=["total"], args=[i]) for i in range(1, 251)]
    results = await asyncio.gather(*sets, *adds)
    round_trips = checkouts.count
    assert results[:250] == [b"OK"] * 250  # Redis's own reply
    assert sorted(int(r) for r in results[250:])[-1] == sum(range(1, 251))
    assert int(await client.get("total")) == sum(range(1, 251))
    assert await client.get("k249") == b"249"
    # 500 commands, 100 a batch, and the script's first load (SCRIPT LOAD, then its calls again)
    assert 5 <= round_trips <= 7, round_trips


async def test_a_script_lost_by_redis_is_loaded_again(client) -> None:
    pipelined = PipelinedRedis(client)
    script = client.register_script(COUNT)
    assert await pipelined.run_script(script, keys=["n"], args=[2]) == 2
    await client.script_flush()  # as after a Redis restart without the scripts
    assert await pipelined.run_script(script, keys=["n"], args=[3]) == 5


async def test_an_error_belongs_to_its_command_alone(client) -> None:
    pipelined = PipelinedRedis(client)
    await client.set("text", "not a number")
    good, bad = await asyncio.gather(
        pipelined.execute_command("INCR", "n"),
        pipelined.execute_command("INCR", "text"),
        return_exceptions=True,
    )
    assert good == 1 and isinstance(bad, ResponseError)


async def test_a_connection_cut_off_mid_batch_fails_that_batch_and_the_next_one_works(
    client, redis_server
) -> None:
    pipelined = PipelinedRedis(client)
    assert await pipelined.execute_command("SET", "a", 1) == b"OK"
    await client.client_kill_filter(skipme=False, _type="normal")  # every client, mid-use
    results = await asyncio.gather(pipelined.execute_command("GET", "a"), return_exceptions=True)
    # a dropped connection fails the batch it carried (or, reconnected first, answers it)
    assert results[0] == b"1" or isinstance(results[0], RedisConnectionError)
    assert await pipelined.execute_command("GET", "a") == b"1"
