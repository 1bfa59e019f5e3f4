"""`reelbot verify` and `reelbot scan`: what a clip file says about where it came from, and
what the output scan makes of its frames — both read through the bounded decoder, so a hostile
file costs a bounded time and memory."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.errors import UserFacingError

if TYPE_CHECKING:
    from gallery.settings import GallerySettings

EXIT_BAD_INPUT = 2  # as cli.main's


def gallery_settings() -> GallerySettings:
    """The gallery's settings as `load_settings` reads the bot's, its database URL checked."""
    from gallery.dburl import check_database_url
    from gallery.settings import GallerySettings
    from jobs.settings import load_settings as load

    settings = load(GallerySettings)
    check_database_url(settings.resolved_database_url())
    return settings


def add_inspect_commands(sub: Any) -> None:
    """`reelbot verify FILE` and `reelbot scan FILE` on the command's subparsers."""
    p = sub.add_parser("verify", help="tell whether a clip was made here, and which (JSON)")
    p.add_argument("file", type=Path, help="an MP4 file")
    p.add_argument("--json", action="store_true", help="one compact line of JSON")
    p.set_defaults(run=cmd_verify)

    p = sub.add_parser("scan", help="score a clip's frames as the output scan does (JSON)")
    p.add_argument("file", type=Path, help="an MP4 file")
    p.add_argument("--classifiers", default=None, help="e.g. nudenet,clip (default: settings)")
    p.add_argument("--sheet", type=Path, default=None, help="also write the contact sheet (PNG)")
    p.add_argument("--json", action="store_true", help="one compact line of JSON")
    p.set_defaults(run=cmd_scan)


def cmd_verify(args: argparse.Namespace) -> int:
    """Print what a clip says about its origin (JSON): 0 ours, 1 not ours, 2 unreadable."""
    from worker.provenance import ProvenanceError
    from worker.verify import verify_clip

    settings = gallery_settings()
    try:
        report = verify_clip(
            args.file, lookup=_gallery_lookup(settings), public_url=settings.public_url
        )
    except ProvenanceError as exc:
        print(f"reelbot: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    print(json.dumps(report, ensure_ascii=False, indent=None if args.json else 2))
    return 0 if report["ours"] else 1


def cmd_scan(args: argparse.Namespace) -> int:
    """Print a clip's per-frame scores and the output scan's decision (JSON): 0 allow, 1 hold or
    block, 2 unreadable or no classifier."""
    from worker.media_budget import UnreadableMedia
    from worker.model_sources import load_output_check
    from worker.output_check import sheet_png
    from worker.settings import WorkerConfig

    overrides = {"scan_classifiers": args.classifiers} if args.classifiers else {}
    config = WorkerConfig(**overrides)
    check = load_output_check(config)  # as the worker: a CLIP pulled to REELBOT_MODELS_DIR
    if not check.enabled:
        raise UserFacingError(
            "no frame classifier is configured: install reelbot[nsfw] (NudeNet, AGPL-3.0) or set "
            "REELBOT_SCAN_CLIP_MODEL, then REELBOT_SCAN_CLASSIFIERS"
        )
    if not args.file.is_file():
        print(f"reelbot: {args.file} is not a file", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:  # decoded in a bounded child: a hostile file costs a bounded time and memory
        report, frames = check.scan_file(args.file)
    except UnreadableMedia as exc:
        print(f"reelbot: can't read {args.file.name} as a video: {exc.reason}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except OSError as exc:
        print(f"reelbot: can't read {args.file.name} ({exc})", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.sheet is not None:
        args.sheet.write_bytes(sheet_png(frames, report))
    out = {"file": str(args.file), **report.model_dump(mode="json")}
    print(json.dumps(out, ensure_ascii=False, indent=None if args.json else 2))
    return 0 if report.decision == "allow" else 1


def _gallery_lookup(settings: GallerySettings) -> Callable[[str], str | None]:
    """Watermark id prefix -> full generation id, from this install's gallery if it has one."""

    def lookup(prefix: str) -> str | None:
        import sqlalchemy as sa

        from gallery.db import make_engine
        from gallery.models import Generation

        url = settings.resolved_database_url()
        if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).is_file():
            return None
        engine = make_engine(url)
        try:
            with engine.connect() as connection:
                rows = connection.execute(
                    sa.select(Generation.id).where(Generation.id.startswith(prefix)).limit(2)
                ).all()
        except sa.exc.SQLAlchemyError:
            return None
        finally:
            engine.dispose()
        return rows[0][0] if len(rows) == 1 else None

    return lookup
