"""A bucket seen from outside, end to end: fake Discord ↔ discord.py bot ↔ real Redis ↔ a worker
process ↔ SQLite gallery ↔ moto's S3 server, the bucket set up as the README says (only `public/`
readable by anyone, `REELBOT_S3_PUBLIC_URL` serving it). The bot and the worker each keep their
own local folder, as on two machines.

What a visitor without credentials gets from the bucket follows what members and moderators do:
a public clip answers, a `-hide` clip never does, `/mod hide` and `/mod purge` take a clip out
and `/mod unhide` puts it back; Delete and ❌ leave no object in the bucket and no file on either
disk, and a purge's clips go the same way once the grace period has passed.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from gallery.deletion import PURGE_GRACE, expire_purged
from gallery.mediastore import make_media_store
from gallery.models import utcnow
from gallery.s3media import S3MediaStore
from tests.fakediscord import FakeDiscord
from tests.harness.buckets import new_bucket, objects, s3_endpoint, s3_settings, visitor_statuses
from tests.harness.members import create
from tests.harness.stack import Stack, clip_id
from tests.harness.waiting import eventually
from tests.harness.workers import WorkerProcesses, reelbot_env

__all__ = ["s3_endpoint"]  # a fixture

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

SHOWN = ("mp4", "jpg", "preview.mp4")
OUT = {403, 404}


@pytest.fixture
def bucket(s3_endpoint: str, tmp_path: Path) -> str:
    return new_bucket(s3_endpoint, tmp_path / "setup")


@pytest.fixture
def public_url(s3_endpoint: str, bucket: str) -> str:
    return f"{s3_endpoint}/{bucket}/public"


@pytest.fixture
def bucket_workers(
    redis_server: object, data_dir: Path, s3_endpoint: str, bucket: str, public_url: str
) -> Iterator[WorkerProcesses]:
    env = reelbot_env(
        redis_server.url,  # type: ignore[attr-defined]
        data_dir,
        REELBOT_MEDIA_DIR=str(data_dir.parent / "worker-media"),
        REELBOT_MEDIA_STORE="s3",
        REELBOT_S3_BUCKET=bucket,
        REELBOT_S3_ENDPOINT_URL=s3_endpoint,
        REELBOT_S3_REGION="us-east-1",
        REELBOT_S3_ACCESS_KEY_ID="test-key",
        REELBOT_S3_SECRET_ACCESS_KEY="test-secret",
        REELBOT_S3_PUBLIC_URL=public_url,
    )
    procs = WorkerProcesses(env, data_dir.parent / "logs")
    yield procs
    procs.stop_all()


@pytest.fixture
def bot_media(stack: Stack, s3_endpoint: str, bucket: str, public_url: str) -> S3MediaStore:
    """The bot's store: the same bucket, its own local folder."""
    folder = stack.media.root.parent / "bot"
    media = make_media_store(s3_settings(s3_endpoint, folder, bucket, s3_public_url=public_url))
    assert isinstance(media, S3MediaStore)
    stack.media = media
    return media


def seen(endpoint: str, bucket: str, media: S3MediaStore, gid: str) -> dict[str, dict[str, int]]:
    """What a visitor gets for each of a clip's public media, at each prefix."""
    return {
        kind: visitor_statuses(endpoint, bucket, media.relative_path(gid, kind)) for kind in SHOWN
    }


def hidden_everywhere(endpoint: str, bucket: str, media: S3MediaStore, gid: str) -> bool:
    found = seen(endpoint, bucket, media, gid)
    return all(set(prefixes.values()) <= OUT for prefixes in found.values())


def on_disk(gid: str, *folders: Path) -> list[Path]:
    return [path for folder in folders for path in folder.rglob(f"{gid}*")]


async def test_what_a_visitor_gets_from_the_bucket_follows_members_and_moderators(
    stack: Stack,
    bucket_workers: WorkerProcesses,
    bot_media: S3MediaStore,
    s3_endpoint: str,
    bucket: str,
    data_dir: Path,
) -> None:
    worker_media = data_dir.parent / "worker-media"
    bucket_workers.start()
    bot = await stack.new_bot()
    async with FakeDiscord() as fake, fake.running(bot):
        result = await create(fake, "a red kite over the sea -seed 2")
        gid = clip_id(result)
        assert list(result.files) == ["reelbot-2.mp4"]  # the bot fetched it from the bucket
        for kind, prefixes in seen(s3_endpoint, bucket, bot_media, gid).items():
            assert prefixes == {"public/": 200, "private/": 403, "(bare)": 404}, kind
        # The worker's disk keeps only clips in hand: its copies went once this one was posted.
        await eventually(lambda: on_disk(gid, worker_media), lambda found: found == [])

        private = clip_id(await create(fake, "a blue boat at dawn -hide -seed 3"))
        assert hidden_everywhere(s3_endpoint, bucket, bot_media, private)
        assert objects(bot_media, private)  # kept, privately

        ix = await fake.slash_command("mod hide", {"clip": gid}, user="mod")
        assert "Hidden" in (await ix.wait_reply()).content
        assert hidden_everywhere(s3_endpoint, bucket, bot_media, gid)
        ix = await fake.slash_command("mod unhide", {"clip": gid}, user="mod")
        assert "back" in (await ix.wait_reply()).content
        assert seen(s3_endpoint, bucket, bot_media, gid)["mp4"]["public/"] == 200

        ix = await fake.click_button(result, label="Delete", user="alice")
        assert (await ix.wait_reply()).content == "Deleted."
        assert objects(bot_media, gid) == []
        assert on_disk(gid, bot_media.root, worker_media) == []

        reacted = await create(fake, "a green field in the wind -seed 4")
        crossed = clip_id(reacted)
        await fake.add_reaction(reacted, "❌", user="bob")  # not bob's: taken back, nothing goes
        await fake.wait_for(
            lambda e: e.kind == "reaction_remove" and e.data == {"emoji": "❌", "user": "bob"}
        )
        assert objects(bot_media, crossed)
        await fake.add_reaction(reacted, "❌", user="alice")
        await eventually(lambda: objects(bot_media, crossed), lambda found: found == [])
        assert on_disk(crossed, bot_media.root, worker_media) == []

        purged = clip_id(await create(fake, "a yellow kite in a storm -seed 5"))
        assert seen(s3_endpoint, bucket, bot_media, purged)["mp4"]["public/"] == 200
        ix = await fake.slash_command("mod purge", {"member": "alice"}, user="mod")
        answer = (await ix.wait_reply()).content
        assert "Hid 2 clips" in answer and f"within {PURGE_GRACE.days} days" in answer
        assert hidden_everywhere(s3_endpoint, bucket, bot_media, purged)
        assert objects(bot_media, purged)  # for moderators to look at, and to unhide

        later = utcnow() + PURGE_GRACE + timedelta(hours=1)
        # what the bot's hourly sweep does, a week on
        expired = expire_purged(
            bot.moderation_store, bot.community, bot.store, bot_media, now=later
        )
        assert sorted(expired) == sorted([private, purged])
        for gone in (private, purged):
            assert objects(bot_media, gone) == []
            assert on_disk(gone, bot_media.root, worker_media) == []
