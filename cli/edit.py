"""`reelbot edit CLIP ["instruction"] [--where …] [--expand 9:16 | --zoom-out 1.5] [--add PIC]
[--swap "the red car" --with "a bicycle" | --with-image PIC]`: ✏️ Modify, ↔ Expand, /add and
/swap from a terminal, checked and sized by `intake.edits` as on Discord, then queued and followed
to the new MP4 as `reelbot create` does (`cli.console`).

What was typed (the edit, where, a picture) is refused before anything is connected, and the
clip (an id or a gallery link) before anything is queued: exit 2 and the reason. The terminal
is the operator's, so it may edit hidden clips, and is under no caps.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from core.edits import EXPAND_SHAPES, ZOOM_OUTS
from core.errors import FlagError, UserFacingError
from core.rendercaps import Capabilities
from core.spec import DEFAULT_QUALITY, Quality, RenderSpec
from intake.edits import EditAsk, check_parent, clip_id_of, edit_capabilities, edit_spec

if TYPE_CHECKING:
    from arq.connections import ArqRedis

    from bot.settings import BotSettings
    from cli.console import CreatedClip
    from gallery.media import LocalMediaStore
    from gallery.models import Generation
    from gallery.store import GalleryStore

OWNER = "cli:local"


@dataclass(frozen=True)
class Terminal:
    """The operator at this terminal, as `intake.edits` wants an asker."""

    owner_id: str = OWNER
    display_name: str = OWNER
    guild_id: int | None = None
    channel_id: int | None = None
    upload_limit: int | None = None


def ask_of(args: argparse.Namespace) -> EditAsk:
    """The edit the options ask for; a FlagError when they don't make one edit."""
    kinds = [
        kind
        for kind, given in (
            ("expand", args.expand or args.zoom_out),
            ("add", args.add),
            ("swap", args.swap),
        )
        if given
    ]
    if args.expand and args.zoom_out:
        raise FlagError("Give --expand or --zoom-out, not both.")
    if len(kinds) > 1:
        raise FlagError(f"One edit at a time: --{kinds[0]} or --{kinds[1]}, not both.")
    if (args.with_words or args.with_image) and kinds != ["swap"]:
        raise FlagError('--with and --with-image go with --swap "what to replace".')
    kind = kinds[0] if kinds else "modify"
    if kind == "swap" and bool(args.with_words) == bool(args.with_image):
        raise FlagError('--swap takes exactly one of --with "words" or --with-image PICTURE.')
    if kind in ("swap", "expand") and args.where:
        raise FlagError(f"--where doesn't go with --{kind}.")
    ask = EditAsk(
        kind,  # type: ignore[arg-type]  # one of the four
        instruction=args.with_words or args.instruction or "",
        where=args.swap or args.where or "",
        expand_to=args.expand,
        zoom_out=args.zoom_out,
    )
    ask.edit()  # where and the shape read now, before anything is connected
    return ask


def read_picture(path: Path) -> bytes:
    """The picture as /animate checks it: its re-encoded PNG."""
    from intake.media.images import check_declared_size, check_image

    try:
        check_declared_size(path.name, path.stat().st_size)
        data = path.read_bytes()
    except OSError as exc:
        raise FlagError(f"Can't read `{path}`: {exc.strerror or exc}.") from None
    try:
        return check_image(data, path.name).png
    except UserFacingError as exc:  # bad input: exit 2, as a bad flag
        raise FlagError(str(exc)) from None


def cmd_edit(args: argparse.Namespace) -> int:
    from bot.settings import BotSettings
    from gallery.dburl import database_checked
    from jobs.settings import load_settings

    ask = ask_of(args)
    picture_path = args.add or args.with_image
    picture = read_picture(picture_path) if picture_path else None
    settings = load_settings(BotSettings)  # a ConfigError names each bad REELBOT_ variable
    with database_checked(settings.resolved_database_url()):
        return asyncio.run(_edit(settings, args.clip, ask, picture, args.timeout))


async def _edit(
    settings: BotSettings, clip: str, ask: EditAsk, picture: bytes | None, timeout: float | None
) -> int:
    from cli.up import queue_redis_url, read_run_file
    from core.capabilities import capabilities_for
    from gallery.db import make_engine, migrate
    from gallery.mediastore import make_media_store
    from gallery.store import GalleryStore
    from intake.submit import connect_queue

    public_url = (
        settings.public_url
        or read_run_file(settings.data_dir, "gallery.url")
        or settings.resolved_public_url()
    )
    engine = make_engine(settings.resolved_database_url())
    try:
        await asyncio.to_thread(migrate, engine)
        store = GalleryStore(engine)
        row = await parent_of(store, clip, public_url)  # before anything else is connected
        redis_url = queue_redis_url(settings)
        pool = await connect_queue(redis_url)
        try:
            await edit_clip(
                row,
                ask,
                picture,
                pool=pool,
                store=store,
                media=make_media_store(settings),
                main=capabilities_for(settings.backend),
                public_url=public_url,
                idle_timeout_s=timeout,
                default_quality=settings.default_quality,
            )
        finally:
            await pool.aclose()
    finally:
        engine.dispose()
    return 0


async def parent_of(store: GalleryStore, clip: str, public_url: str) -> Generation:
    """The clip a terminal names, or a FlagError (exit 2) saying why it can't be edited."""
    try:
        row = await asyncio.to_thread(store.get, clip_id_of(clip, public_url))
        check_parent(row, OWNER, moderates=True)
    except UserFacingError as exc:
        raise FlagError(str(exc)) from None
    assert row is not None
    return row


async def edit_clip(
    row: Generation,
    ask: EditAsk,
    picture: bytes | None,
    *,
    pool: ArqRedis,
    store: GalleryStore,
    media: LocalMediaStore,
    main: Capabilities,
    public_url: str,
    out: TextIO = sys.stdout,
    capabilities: Capabilities | None = None,
    idle_timeout_s: float | None = None,
    default_quality: Quality = DEFAULT_QUALITY,
) -> CreatedClip:
    """Queue the edit of `row` (sized for the fleet's editor, or `capabilities`), follow it
    and print where the new clip is, as `cli.console.create_clip` does."""
    from cli.console import ProgressPrinter, _follow
    from intake.fleet import FleetChoice
    from intake.submit import admitting_submitter, new_generation_id

    parent_media = check_parent(row, OWNER, moderates=True)
    caps = capabilities or await edit_capabilities(main, FleetChoice(pool))
    held = parent_media if picture is not None else None  # replaced once stored
    spec = edit_spec(
        RenderSpec.model_validate(row.spec),
        row.id,
        Terminal(),
        ask,
        caps,
        parent_media=parent_media,
        picture=held,
        default_quality=default_quality,
    )
    new_id = new_generation_id()
    if picture is not None:  # in the store under the edit's id before its job exists
        stored, _size = await asyncio.to_thread(media.save_bytes, new_id, picture, "png")
        spec = spec.model_copy(update={"input_media": (parent_media, stored)})
    printer = ProgressPrinter(out)
    async with admitting_submitter(pool, store) as submitter:
        return await _follow(
            new_id, spec, submitter, pool, media, public_url, printer, idle_timeout_s
        )


def add_edit_command(sub: Any) -> None:
    """`reelbot edit`, registered by `cli.main.build_parser`."""
    p = sub.add_parser("edit", help="edit a finished clip: modify, expand, add or swap")
    p.add_argument("clip", help="the clip's id or gallery link")
    p.add_argument("instruction", nargs="?", default="", help='what to change, e.g. "make it snow"')
    p.add_argument("--where", default="", help="the red car, left, top, center or x,y,w,h in %%")
    p.add_argument("--expand", choices=EXPAND_SHAPES, default=None, help="a new shape")
    p.add_argument(
        "--zoom-out", type=float, choices=ZOOM_OUTS, default=None, help="a larger canvas"
    )
    p.add_argument("--add", type=Path, default=None, metavar="PICTURE", help="put it in the clip")
    p.add_argument("--swap", default="", metavar="WHAT", help='what to replace, e.g. "the car"')
    p.add_argument("--with", dest="with_words", default="", metavar="WORDS", help="replaces it")
    p.add_argument("--with-image", type=Path, default=None, metavar="PICTURE", help="replaces it")
    p.add_argument("--timeout", type=float, default=None, help="give up after idle seconds")
    p.set_defaults(run=cmd_edit)
