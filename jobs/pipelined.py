"""Redis commands from concurrent requests, sent together as one pipeline.

Each command on its own costs the client a connection checkout, a write, a read and the reply's
parsing: in a burst of `/create`, that was a large share of the bot's CPU for three small
commands a request. `PipelinedRedis` sends the commands that arrive while one pipeline is out in
the next one (`jobs.batching.Batcher`), so a burst costs a few round trips instead of
thousands, and a lone command goes out at once.

The pipeline is not a transaction: commands of different requests are independent, each gets
its own reply or its own error, and a script stays atomic on its own as always. Replies are
Redis's own (`SET` answers `b"OK"`), without redis-py's per-command response callbacks.

Commands are packed by hiredis when it is there (arq installs it): redis-py's pure-Python packer
costs more than the rest of a pipelined command (about 23 µs against 3 for a submit's 17
arguments).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.connection import AbstractConnection
from redis.commands.core import AsyncScript
from redis.exceptions import NoScriptError, ResponseError

from jobs.batching import Batcher

__all__ = ["PipelinedRedis"]

MAX_BATCH = 256

Command = tuple[Any, ...]


class PipelinedRedis:
    """`execute_command` and `run_script`, as on a Redis client, sharing round trips."""

    def __init__(self, redis: Redis, *, max_batch: int = MAX_BATCH) -> None:
        self.redis = redis
        self._sources: dict[str, str | bytes | memoryview] = {}  # sha -> script, after NOSCRIPT
        self._batcher: Batcher[Command, Any] = Batcher(self._send, max_batch=max_batch)

    async def execute_command(self, *args: Any) -> Any:
        return await self._batcher(args)

    async def run_script(
        self, script: AsyncScript, keys: Sequence[Any] = (), args: Sequence[Any] = ()
    ) -> Any:
        """What `script(keys=..., args=...)` returns; loaded into Redis again if it was lost."""
        self._sources[script.sha] = script.script
        return await self._batcher(("EVALSHA", script.sha, len(keys), *keys, *args))

    async def _send(self, commands: Sequence[Command]) -> list[Any]:
        outcomes = await self._pipeline(commands)
        lost = [i for i, outcome in enumerate(outcomes) if isinstance(outcome, NoScriptError)]
        if lost:  # Redis restarted or was flushed: load those scripts and run their calls again
            for sha in {commands[i][1] for i in lost}:
                await self.redis.script_load(self._sources[sha])
            again = await self._pipeline([commands[i] for i in lost])
            for i, outcome in zip(lost, again, strict=True):
                outcomes[i] = outcome
        return outcomes

    async def _pipeline(self, commands: Sequence[Command]) -> list[Any]:
        pool = self.redis.connection_pool
        connection = await pool.get_connection()
        try:
            await connection.send_packed_command(_pack(connection, commands))
            replies: list[Any] = []
            for _ in commands:
                try:
                    replies.append(await connection.read_response())
                except ResponseError as exc:  # this command's own error; the rest go on
                    replies.append(exc)
        except BaseException:  # cut off mid-reply: never hand this connection to anyone again
            await connection.disconnect()
            raise
        finally:
            await pool.release(connection)
        return replies


def _pack(connection: AbstractConnection, commands: Sequence[Command]) -> bytes | list[bytes]:
    if _hiredis_pack is None:
        return connection.pack_commands(commands)
    return b"".join(_hiredis_pack(command) for command in commands)


def _hiredis_packer() -> Callable[[Command], bytes] | None:
    """hiredis's packer where it is installed (arq installs it), else None."""
    try:
        from hiredis import pack_command
    except ImportError:  # redis-py's own packer: slower, same bytes
        return None
    return pack_command


_hiredis_pack = _hiredis_packer()
