"""`reelbot media sync`: every clip file where its gallery row says it belongs.

After an upgrade from a version that kept a bucket's objects at the bare path (all of them
readable wherever the bucket was public), and whenever something may have gone wrong between
the database and the bucket: objects move under `private/`, public clips' public media are
copied under `public/`, every other clip's copies there are taken down, and the files of
deleted clips go (`gallery.visibility.sync`). Safe to stop, to run again and to run while
everything else runs.
"""

from __future__ import annotations

import argparse
import logging
from typing import Any


def add_media_commands(sub: Any) -> None:
    """`reelbot media …` on the command's subparsers."""
    parser = sub.add_parser("media", help="clip files: put each where its gallery row says")
    actions = parser.add_subparsers(dest="media_command", required=True, metavar="ACTION")
    sync = actions.add_parser(
        "sync",
        help="move a bucket's objects into private/ and public/ (after upgrading), expose "
        "public clips, withdraw the rest, delete deleted clips' files",
    )
    sync.set_defaults(run=cmd_media_sync)


def cmd_media_sync(args: argparse.Namespace) -> int:
    from core.errors import ConfigError
    from gallery.db import make_engine, migrate
    from gallery.dburl import check_database_url
    from gallery.mediastore import make_media_store
    from gallery.settings import GallerySettings
    from gallery.store import GalleryStore
    from gallery.visibility import sync
    from jobs.settings import load_settings

    logging.basicConfig(level=logging.WARNING, format="reelbot: %(message)s")
    settings = load_settings(GallerySettings)
    check_database_url(settings.resolved_database_url())
    try:
        media = make_media_store(settings)
    except (ValueError, ImportError) as exc:  # no bucket named, or boto3 not installed
        raise ConfigError(f"REELBOT_MEDIA_STORE=s3: {exc}") from None
    engine = make_engine(settings.resolved_database_url())
    try:
        migrate(engine)
        report = sync(GalleryStore(engine), media)
    finally:
        engine.dispose()
    print(
        f"moved {report.adopted} objects into private/; {report.public} public clips exposed, "
        f"{report.private} kept private; files of {report.deleted} deleted clips removed"
    )
    return 0
