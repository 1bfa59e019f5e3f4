"""`reelbot media sync`, the upgrade step for a bucket an older version filled: run as an operator
runs it (settings from the environment), against moto's S3 server and a SQLite gallery."""

from __future__ import annotations

from pathlib import Path

import pytest

from cli.main import main
from gallery.db import make_engine, migrate
from gallery.mediastore import make_media_store
from gallery.s3media import S3MediaStore
from gallery.store import GalleryStore
from tests.gallery.factories import add_done, new_id
from tests.harness.buckets import new_bucket, objects, s3_endpoint, s3_settings, visitor_statuses

__all__ = ["s3_endpoint"]  # a fixture

pytestmark = pytest.mark.timeout(60)


def test_sync_makes_an_old_bucket_safe_and_says_what_it_did(
    s3_endpoint: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    bucket = new_bucket(s3_endpoint, tmp_path / "setup")
    public_url = f"{s3_endpoint}/{bucket}/public"
    settings = s3_settings(s3_endpoint, tmp_path / "data", bucket, s3_public_url=public_url)
    media = make_media_store(settings)
    assert isinstance(media, S3MediaStore)
    engine = make_engine(settings.resolved_database_url())
    migrate(engine)
    store = GalleryStore(engine)
    shown, held = new_id(), new_id()
    for gid in (shown, held):  # where the older version put them
        media.client.put_object(Bucket=bucket, Key=media.relative_path(gid), Body=b"clip")
        add_done(store, id=gid, media_path=media.relative_path(gid))
    store.set_moderation(held, "held")
    engine.dispose()

    for name, value in {
        "REELBOT_DATA_DIR": str(tmp_path / "data"),
        "REELBOT_MEDIA_STORE": "s3",
        "REELBOT_S3_BUCKET": bucket,
        "REELBOT_S3_ENDPOINT_URL": s3_endpoint,
        "REELBOT_S3_REGION": "us-east-1",
        "REELBOT_S3_ACCESS_KEY_ID": "test-key",
        "REELBOT_S3_SECRET_ACCESS_KEY": "test-secret",
        "REELBOT_S3_PUBLIC_URL": public_url,
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)  # no .env of the developer's
    assert main(["media", "sync"]) == 0
    assert capsys.readouterr().out == (
        "moved 2 objects into private/; 1 public clips exposed, 1 kept private; "
        "files of 0 deleted clips removed\n"
    )
    assert visitor_statuses(s3_endpoint, bucket, media.relative_path(shown)) == {
        "public/": 200,
        "private/": 403,
        "(bare)": 404,
    }
    assert objects(media, held) == [f"private/{media.relative_path(held)}"]

    monkeypatch.setenv("REELBOT_S3_BUCKET", "")
    assert main(["media", "sync"]) == 3
    assert "REELBOT_S3_BUCKET" in capsys.readouterr().err
