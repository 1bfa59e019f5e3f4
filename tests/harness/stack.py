"""The bot's side of a local install, built as `run_bot` builds it, and what members receive."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import av
import pytest

from bot.app import ReelBot
from cli.local_redis import LocalRedis
from core.capabilities import capabilities_for
from core.rendercaps import Capabilities
from gallery.db import make_engine, migrate
from gallery.media import LocalMediaStore
from gallery.store import GalleryStore
from intake.submit import connect_queue
from tests.fakediscord import FakeDiscord, Message

PUBLIC_URL = "http://gallery.test"
READY = "your clip is ready"

# The bot sizes clips as for Wan or LTX, but small and in two steps, so the tiny models render
# in seconds on a CPU; the worker checks each spec against the real family's capabilities.
WAN_SMALL = capabilities_for("wan").model_copy(
    update={"native_pixels": 96 * 64, "default_steps": 2}
)
LTX_SMALL = capabilities_for("ltx").model_copy(
    update={"native_pixels": 256 * 128, "default_steps": 2}
)


class Stack:
    """Everything a bot needs, built the way `run_bot` builds it, so tests can restart the bot."""

    def __init__(
        self, redis_url: str, data_dir: Path, capabilities: Capabilities | None = None
    ) -> None:
        self.redis_url = redis_url
        self.capabilities = capabilities or capabilities_for("tiny")  # what the workers load
        self.engine = make_engine(f"sqlite:///{data_dir / 'reelbot.db'}")
        migrate(self.engine)
        self.store = GalleryStore(self.engine)
        self.media = LocalMediaStore(data_dir / "media")
        self.pools: list[object] = []

    async def new_bot(self, **options: Any) -> ReelBot:
        """A fresh bot on this stack's Redis, database and media; `options` are more of
        `ReelBot`'s keyword arguments (say, `review=`)."""
        pool = await connect_queue(self.redis_url)
        self.pools.append(pool)
        return ReelBot(
            queue=pool,
            store=self.store,
            media=self.media,
            capabilities=self.capabilities,
            public_url=PUBLIC_URL,
            guild_ready_timeout=0.05,
            **options,
        )

    async def close(self) -> None:
        for pool in self.pools:
            await pool.aclose()  # type: ignore[attr-defined]
        self.engine.dispose()


@pytest.fixture
async def stack(redis_server: LocalRedis, redis: object, data_dir: Path) -> AsyncIterator[Stack]:
    """A stack for the tiny model on a flushed Redis and a fresh data folder."""
    s = Stack(redis_server.url, data_dir)
    yield s
    await s.close()


def probe(data: bytes) -> tuple[int, int, int, float]:
    """(width, height, frames, fps) of an MP4 as posted."""
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.video[0]
        frames = sum(1 for _ in container.decode(stream))
        return stream.width, stream.height, frames, float(stream.average_rate)


def results_for_bot(fake: FakeDiscord) -> list[Message]:
    """Messages the bot posted into channels that carry a clip or a clip link."""
    return [m for m in fake.visible_messages() if READY in m.content]


def clip_id(result: Message) -> str:
    """The generation id in a result's gallery link."""
    return result.content.split(f"{PUBLIC_URL}/clips/")[1].split()[0]
