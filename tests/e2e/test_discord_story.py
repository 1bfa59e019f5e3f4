"""`/story` end to end: fake Discord ↔ unmodified discord.py bot ↔ real Redis ↔ real
`python -m worker` processes on the tiny model ↔ SQLite gallery.

A story of three shots arrives as one clip of the whole story's length, its progress named the
shots, and its gallery page lists them; with the worker killed after its first shot, another
worker finishes it from the stored shot: the story arrives once and no shot is rendered twice
(counted in the workers' logs, which say each shot rendered or kept).
"""

from __future__ import annotations

import os
import re
import signal
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer
from redis.asyncio import Redis

from core.capabilities import capabilities_for
from core.fairshare import Caps
from core.flags import parse_request
from core.limits import Limits
from gallery.db import make_engine, migrate
from gallery.store import GalleryStore
from gallery.web import create_app
from intake.stories import as_story
from jobs.admission import Admission
from jobs.events import read_event
from jobs.keys import RESULT_STREAM, events_key
from tests.e2e.test_discord_loop import frames_of
from tests.e2e.test_worker_faults import events_of
from tests.fakediscord import FakeDiscord
from tests.harness.members import user_id
from tests.harness.stack import PUBLIC_URL, Stack, clip_id, results_for_bot
from tests.harness.waiting import eventually
from tests.harness.workers import WorkerProcesses, submit_admitted

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

SHOTS = ["a knight rides out", "the knight meets a dragon <b>", "they share tea"]


async def shot_labels(redis: Redis, gid: str) -> set[str]:
    """What the clip's step events said about shots, as the bot's progress reads them."""
    entries = await redis.xrange(events_key(gid))
    return {e.message for e in (read_event(f) for _, f in entries) if e.kind == "step"}


async def test_a_story_of_three_shots_is_one_clip_and_its_page_lists_them(
    stack: Stack, workers, redis: Redis
) -> None:
    workers.start()
    async with FakeDiscord() as fake, fake.running(await stack.new_bot()):
        ix = await fake.slash_command(
            "story", {"prompt": " | ".join(SHOTS) + " -seed 4 -len 1"}, user="bob"
        )
        queued = await ix.wait_reply()
        assert not queued.ephemeral
        assert "A story of 3 shots, 1 s each" in queued.content
        assert "counts as 3 clips today" in queued.content
        result = await fake.wait_for_message(
            lambda m: "your clip is ready" in m.content, timeout=90
        )
        assert "`/story " in result.content and "-len 1 -seed 4" in result.content  # remade so
        gid = clip_id(result)
        row = await eventually(lambda: stack.store.get(gid), lambda r: r.discord_message_id)
        assert row.spec["mode"] == "story" and row.spec["num_frames"] == 3 * 24
        assert len(frames_of(result)) == 3 * 24  # one clip: every shot, one after another
        assert await shot_labels(redis, gid) >= {"shot 1/3", "shot 2/3", "shot 3/3"}
        assert results_for_bot(fake) == [result]

        ix = await fake.slash_command("story", {"prompt": "only one shot here"}, user="bob")
        refused = await ix.wait_reply()
        assert refused.ephemeral
        assert "A story takes 2 to 8 shots separated by |, got 1" in refused.content

    app = create_app(stack.store, stack.media, public_url=PUBLIC_URL)
    async with TestClient(TestServer(app)) as client:
        html = await (await client.get(f"/clips/{gid}")).text()
    listed = html.split('<ol class="shots">')[1].split("</ol>")[0]
    texts = re.findall(r'<span class="at">[0-9:]+</span> ([^<]*)</li>', listed)
    assert texts == ["a knight rides out", "the knight meets a dragon &lt;b&gt;", "they share tea"]
    played = re.findall(r'<video class="shot-player"[^>]* src="([^"]+)"', listed)
    assert played == [f"/media/{gid}.mp4#t={k},{k + 1}" for k in range(3)]  # each shot alone


async def test_a_story_costs_its_shots_today_and_one_that_does_not_fit_is_refused(
    stack: Stack, redis: Redis
) -> None:
    """No worker runs: requests just queue. Two clips made, a cap of 4: three shots don't fit."""
    bot = await stack.new_bot(limits=Limits(base=Caps(in_flight=5, per_day=4)))
    async with FakeDiscord() as fake, fake.running(bot):
        for n in range(2):
            ix = await fake.slash_command("create", {"prompt": f"a fox {n}"}, user="alice")
            assert not (await ix.wait_reply()).ephemeral
        owner, usage = user_id(fake, "alice"), Admission(redis).usage
        await eventually(lambda: usage(owner), lambda used: used == (2, 2))  # both queued
        ix = await fake.slash_command("story", {"prompt": " | ".join(SHOTS)}, user="alice")
        refused = await ix.wait_reply()
        assert refused.ephemeral and "You've made 2 clips today" in refused.content
        assert "A story counts each of its shots, and this one has 3" in refused.content
        assert await usage(owner) == (2, 2)  # nothing queued or counted
        ix = await fake.slash_command("story", {"prompt": "a fox | a hen"}, user="alice")
        assert not (await ix.wait_reply()).ephemeral
        # queued just after its answer: one more in line, two more clips today
        await eventually(lambda: usage(owner), lambda used: used == (3, 4))


async def test_a_worker_killed_between_shots_renders_no_shot_twice(
    redis_server, redis: Redis, workers: WorkerProcesses, data_dir: Path
) -> None:
    engine = make_engine(f"sqlite:///{data_dir / 'reelbot.db'}")
    migrate(engine)
    store = GalleryStore(engine)
    shot = parse_request(
        " | ".join(SHOTS) + " -seed 8 -len 1", capabilities=capabilities_for("tiny")
    )
    # slow enough shots (about 2 s each on a CPU) that the kill lands while shot 2 renders
    story = as_story(shot.model_copy(update={"steps": 60}))
    first = workers.start()
    gid = await submit_admitted(redis_server.url, store, story)
    stored = workers.data_dir / "media" / gid[:2] / f"{gid}.s0.mp4"
    # shot 1 stored and said so (the log line follows the file: killed between the two, the
    # first worker never said it, and the count below was 0 once in a while)
    await eventually(
        lambda: stored.is_file() and "shot 1/3 rendered" in workers.logs(),
        timeout=120,
        every=0.02,
        explain=workers.logs,
    )
    os.kill(first.pid, signal.SIGKILL)  # after shot 1 was stored, before the story is done
    first.wait()
    workers.start()

    events = await events_of(redis_server.url, gid)

    logs = workers.logs()
    kinds = [e.kind for e in events]
    assert kinds.count("done") == 1 and kinds.count("started") == 2, logs
    assert len(await redis.xrange(RESULT_STREAM)) == 1  # the story arrives once
    assert logs.count("shot 1/3 rendered") == 1, logs
    assert logs.count("shot 1/3 kept from an earlier attempt") == 1, logs
    assert logs.count("shot 3/3 rendered") == 1, logs
    assert logs.count("shot 2/3 rendered") == 1, logs  # begun by the first, made by the second
    assert store.get(gid).status == "done"
