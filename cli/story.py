"""`reelbot create --story "shot 1 | shot 2 | shot 3 -len 2"`: a story from the terminal, as
/story makes it (`intake.stories`), followed to the finished MP4 like any `reelbot create`.

Flags after the last shot apply to every shot; a shot may carry its own `-camera`, `-motion`,
`-len` and `-neg` (`core.storyflags`). The story is read and checked before
anything is connected (exit 2 with the reason); the terminal has no caps, so its cost today
is not counted.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, TextIO

from core.errors import UserFacingError

if TYPE_CHECKING:
    from bot.settings import BotSettings
    from core.spec import RenderSpec

Command = Callable[[argparse.Namespace], int]


def add_story_option(parser: argparse.ArgumentParser, create: Command) -> None:
    """`--story` on `reelbot create`: the text is a story; without it, `create` as before."""
    parser.add_argument(
        "--story",
        action="store_true",
        help='the text is a story of 2-8 shots split by |, as /story ("a | b | c -len 2")',
    )

    def run(args: argparse.Namespace) -> int:
        return cmd_story(args) if args.story else create(args)

    parser.set_defaults(run=run)


def story_spec(text: str, settings: BotSettings) -> RenderSpec:
    """The story the text tells, for the configured model, or the member's error."""
    from core.capabilities import UnknownBackend, capabilities_for
    from core.errors import ConfigError
    from core.flags import resolve_request
    from core.stylefile import StyleFile
    from intake.stories import as_story, check_story, read_story, require_story

    try:
        capabilities = capabilities_for(settings.backend)
    except UnknownBackend as exc:
        raise ConfigError(f"REELBOT_BACKEND: {exc}.") from None
    styles = StyleFile.from_file(settings.styles_file).menu(settings.backend)
    require_story(capabilities)
    told = read_story(text, capabilities, styles)  # the story's flags and each shot's own
    check_story(told.story)
    shot = resolve_request(
        told.story,
        capabilities=capabilities,
        owner_id="cli:local",
        owner_name="cli:local",
        default_quality=settings.default_quality,
    )
    return as_story(shot, own=told.shots)


def cmd_story(args: argparse.Namespace) -> int:
    from bot.settings import BotSettings
    from cli.console import with_sound
    from gallery.dburl import database_checked
    from jobs.settings import load_settings

    if args.image or args.end or args.frames or args.encrypt_text:
        raise UserFacingError(
            "--story takes only the shots' text here; start a story from a picture with "
            "/story's image on Discord."
        )
    args.text = with_sound(args.text, args.sound)  # --sound WORDS: -sound "WORDS"
    settings = load_settings(BotSettings)
    with database_checked(settings.resolved_database_url()):
        spec = story_spec(args.text, settings)  # checked before anything is connected
        return asyncio.run(_follow_story(settings, spec, args.timeout))


async def _follow_story(
    settings: BotSettings, spec: RenderSpec, timeout: float | None, out: TextIO = sys.stdout
) -> int:
    from cli.console import ProgressPrinter, _follow
    from cli.up import read_run_file
    from gallery.db import make_engine, migrate
    from gallery.mediastore import make_media_store
    from gallery.store import GalleryStore
    from intake.stories import story_note
    from intake.submit import admitting_submitter, connect_queue, new_generation_id

    redis_url = settings.redis_url or read_run_file(settings.data_dir, "redis.url")
    if not redis_url:
        raise UserFacingError(
            "No Redis configured and no `reelbot up` running here. Start `reelbot up` in "
            "another terminal, or set REELBOT_REDIS_URL to your server."
        )
    pool = await connect_queue(redis_url)
    engine = make_engine(settings.resolved_database_url())
    await asyncio.to_thread(migrate, engine)
    public_url = (
        settings.public_url
        or read_run_file(settings.data_dir, "gallery.url")
        or settings.resolved_public_url()
    )
    printer = ProgressPrinter(out)
    printer.line(story_note(spec).split(";")[0].lower())  # "a story of 3 shots, 2 s each, …"
    try:
        async with admitting_submitter(pool, GalleryStore(engine)) as submitter:
            await _follow(
                new_generation_id(),
                spec,
                submitter,
                pool,
                make_media_store(settings),
                public_url,
                printer,
                timeout,
            )
    finally:
        await pool.aclose()
        engine.dispose()
    return 0
