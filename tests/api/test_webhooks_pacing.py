"""The delivery loop keeps its slots busy: it claims again as soon as half its slots free
after a full claim, and at once when the relay says new events are in the outbox, instead of
waiting out its poll (set to an hour here, so only those wake-ups can deliver)."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import replace
from pathlib import Path

from redis.asyncio import Redis

from api.webhooks.addresses import AddressPolicy
from api.webhooks.deliver import Deliverer
from gallery.db import make_engine, migrate
from gallery.store import GalleryStore
from gallery.webhook_outbox import Outbox
from tests.api.webhooks_harness import FAST, receiver
from tests.gallery.test_webhook_store import add_clip, add_token, events
from tests.harness.waiting import eventually

LOCAL = AddressPolicy(allow_http=True, allow_private=True)


async def test_the_loop_refills_its_slots_and_wakes_for_new_events(
    tmp_path: Path, redis: Redis
) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'reelbot.db'}")
    migrate(engine)
    store, outbox, token = GalleryStore(engine), Outbox(engine), add_token(engine)
    async with receiver() as site:

        def queued_clip() -> str:
            clip = add_clip(store, token, webhook_url=site.url)
            assert outbox.record_events(
                clip, after="", last="clip.queued", events=events("clip.queued")
            )
            return clip.generation_id

        first = [queued_clip() for _ in range(10)]
        deliverer = Deliverer(outbox, LOCAL, redis, replace(FAST, poll_s=3600.0, batch=4))
        loop = asyncio.create_task(deliverer.run())
        try:
            await eventually(lambda: len(site.got), lambda n: n == 10)  # 4 slots, 10 events
            later = queued_clip()
            deliverer.kick()  # what the relay does when it wrote events
            await eventually(lambda: len(site.got), lambda n: n == 11)
            for gid in [*first, later]:
                rows = await eventually(
                    lambda g=gid: outbox.deliveries(g), lambda r: r[0].delivered_at
                )
                assert len(rows) == 1
        finally:
            loop.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await loop
            engine.dispose()
