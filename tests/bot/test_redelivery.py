"""A result read again after it was posted (a crash before its ack, or the pending retry reading
a record while its delivery task was finishing): nothing is posted again, and the render time
the ETAs learn from is counted once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.delivery.consumer import Delivery
from core.spec import ResultRecord
from gallery.db import make_engine, migrate
from gallery.media import LocalMediaStore
from gallery.models import GenerationCreate
from gallery.store import GalleryStore
from jobs.admission import Admission
from jobs.keys import RENDER_TIMES_KEY
from tests.harness.renderjobs import job

pytestmark = pytest.mark.timeout(60)


async def test_a_result_read_again_after_its_post_teaches_no_eta_twice(
    redis: Any, tmp_path: Path
) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'g.db'}")
    migrate(engine)
    store = GalleryStore(engine)
    clip = job("discord:7", 0)
    gid = clip.generation_id
    store.add_generation(GenerationCreate.from_spec(gid, clip.spec.model_dump(mode="json")))
    store.mark_done(gid, media_path="clip.mp4", size_bytes=10, timings={"denoise": 30.0})
    store.set_discord_message(gid, 1234)  # posted, and recorded, before the bot died
    delivery = Delivery(
        None,  # type: ignore[arg-type]  # nothing is posted: a Discord call would fail here
        redis,
        store,
        LocalMediaStore(tmp_path / "media"),
        public_url="http://gallery.test",
        admission=Admission(redis),
    )
    await delivery.deliver(ResultRecord(generation_id=gid, status="done", media_path="clip.mp4"))
    assert await redis.exists(RENDER_TIMES_KEY) == 0  # taught when it was first delivered
