"""`reelbot styles preview [NAME…]`: a preview clip of each style, for `/styles` to link.

Each preview is queued as `reelbot create` queues a clip (the normal job path: the fair queue,
a worker of the family, the output scan, provenance, the gallery), one after another, owned by
`gallery.previews.PREVIEW_OWNER` and public like any clip; `/styles` links each style's newest
finished one on the bot's family. The same prompt and seed for every style, so the previews
differ by the style alone. A family other than REELBOT_BACKEND's: run it again with that
REELBOT_BACKEND (a worker of that family must be serving).
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from core.errors import UserFacingError

if TYPE_CHECKING:
    from bot.settings import BotSettings
    from core.stylefile import StyleMenu

PREVIEW_PROMPT = "a fox walking through a quiet village street at golden hour"
PREVIEW_SEED = 7


def add_preview_command(actions: Any) -> None:
    """`reelbot styles preview [NAME…] [--timeout S]` on `reelbot styles`' actions."""
    preview = actions.add_parser(
        "preview", help="queue a preview clip of each style (or of those named) for /styles"
    )
    preview.add_argument("names", nargs="*", metavar="NAME", help="default: every style")
    preview.add_argument(
        "--timeout", type=float, default=None, help="give up waiting for a clip after S seconds"
    )
    preview.set_defaults(run=cmd_styles_preview)


def preview_texts(menu: StyleMenu, names: Sequence[str]) -> list[str]:
    """The `/create` line of each style's preview (`names`, or every style the family offers);
    UserFacingError for a name the family doesn't offer, naming those it does."""
    offered = menu.style_names()
    unknown = [n for n in names if n not in offered]
    if unknown:
        raise UserFacingError(
            f"No style named {', '.join(repr(n) for n in unknown)} on the {menu.family} model; "
            f"it offers: {', '.join(offered)} (`reelbot styles` lists them)."
        )
    chosen = list(dict.fromkeys(names)) or offered
    return [f"{PREVIEW_PROMPT} -style {name} -seed {PREVIEW_SEED}" for name in chosen]


def cmd_styles_preview(args: argparse.Namespace) -> int:
    from bot.settings import BotSettings
    from gallery.dburl import database_checked
    from jobs.settings import load_settings

    settings = load_settings(BotSettings)  # as `reelbot create` reads them
    with database_checked(settings.resolved_database_url()):
        return asyncio.run(_previews(settings, args.names, args.timeout))


async def _previews(settings: BotSettings, names: Sequence[str], timeout: float | None) -> int:
    from cli.console import create_clip
    from cli.up import queue_redis_url, read_run_file
    from core.stylefile import StyleFile
    from gallery.db import make_engine, migrate
    from gallery.mediastore import make_media_store
    from gallery.previews import PREVIEW_OWNER
    from gallery.store import GalleryStore
    from intake.submit import connect_queue

    styles = StyleFile.from_file(settings.styles_file).menu(settings.backend)
    texts = preview_texts(styles, names)  # a bad name before anything is connected
    redis_url = queue_redis_url(settings)
    pool = await connect_queue(redis_url)
    engine = make_engine(settings.resolved_database_url())
    await asyncio.to_thread(migrate, engine)
    try:
        for text in texts:
            print(f"preview: {text}")
            await create_clip(
                text,
                pool=pool,
                store=GalleryStore(engine),
                media=make_media_store(settings),
                backend=settings.backend,
                public_url=settings.public_url
                or read_run_file(settings.data_dir, "gallery.url")
                or settings.resolved_public_url(),
                owner=PREVIEW_OWNER,
                idle_timeout_s=timeout,
                default_quality=settings.default_quality,
                styles=styles,
            )
    finally:
        await pool.aclose()
        engine.dispose()
    return 0
