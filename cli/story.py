"""`reelbot create --story "shot 1 | shot 2 | shot 3 -len 2"`: a story from the terminal, as
/story makes it (`intake.stories`), followed to the finished MP4 like any `reelbot create`;
`reelbot retake STORY --shot N`: 🎬 Retake from the terminal (a new version of the story with
shot N rendered again, the others kept), shaped like `reelbot edit CLIP`: it acts on a
finished clip named by its id or gallery link, where `create` reads new text.

Flags after the last shot apply to every shot; a shot may carry its own `-camera`, `-motion`,
`-len` and `-neg` (`core.storyflags`). The story is read and checked before
anything is connected (exit 2 with the reason); the terminal has no caps, so its cost today
is not counted.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TextIO

from core.errors import FlagError, UserFacingError
from core.spec import DEFAULT_QUALITY

if TYPE_CHECKING:
    from bot.settings import BotSettings
    from core.rendercaps import Capabilities
    from core.spec import Quality, RenderSpec, StylePreset
    from gallery.models import Generation

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
    from cli.up import queue_redis_url, read_run_file
    from gallery.db import make_engine, migrate
    from gallery.mediastore import make_media_store
    from gallery.store import GalleryStore
    from intake.stories import story_note
    from intake.submit import admitting_submitter, connect_queue, new_generation_id

    redis_url = queue_redis_url(settings)
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


def retake_spec(
    row: Generation | None,
    shot: int,
    capabilities: Capabilities,
    styles: Mapping[str, StylePreset],
    default_quality: Quality = DEFAULT_QUALITY,
) -> RenderSpec:
    """Shot `shot` (1-based, as 🎬 Retake's select names it) of the story `row` taken again: a
    child of the story with a new seed (🎲 Reroll's), `retake` set, so only that shot renders;
    a FlagError (exit 2) when the clip is no story or has no such shot."""
    from cli.edit import OWNER, Terminal
    from core.spec import RenderSpec
    from core.story import STORY, shots
    from intake.edits import check_parent
    from intake.followups import follow_up_spec

    try:
        media = check_parent(row, OWNER, moderates=True)  # the terminal is the operator's
        parent = RenderSpec.model_validate(row.spec)
    except UserFacingError as exc:
        raise FlagError(str(exc).replace("edit", "retake")) from None
    assert row is not None  # check_parent refused a missing one
    if parent.mode != STORY:
        raise FlagError("Only a story's shots can be retaken: this clip is one shot.")
    count = len(shots(parent.prompt))
    if not 1 <= shot <= count:
        raise FlagError(f"`--shot {shot}`: this story has shots 1 to {count}; name one of them.")
    rerolled = follow_up_spec(
        parent,
        row.id,
        "reroll",
        Terminal(),
        capabilities,
        styles,
        parent_media=media,
        default_quality=default_quality,
    )
    return RenderSpec.model_validate(rerolled.model_dump() | {"retake": shot - 1})


def cmd_retake(args: argparse.Namespace) -> int:
    from bot.settings import BotSettings
    from gallery.dburl import database_checked
    from jobs.settings import load_settings

    settings = load_settings(BotSettings)
    with database_checked(settings.resolved_database_url()):
        return asyncio.run(_retake(settings, args.clip, args.shot, args.timeout))


async def _retake(settings: BotSettings, clip: str, shot: int, timeout: float | None) -> int:
    from cli.console import ProgressPrinter, _follow
    from cli.up import queue_redis_url, read_run_file
    from core.capabilities import capabilities_for
    from core.stylefile import StyleFile
    from gallery.db import make_engine, migrate
    from gallery.mediastore import make_media_store
    from gallery.store import GalleryStore
    from intake.edits import clip_id_of
    from intake.submit import admitting_submitter, connect_queue, new_generation_id

    public_url = (
        settings.public_url
        or read_run_file(settings.data_dir, "gallery.url")
        or settings.resolved_public_url()
    )
    engine = make_engine(settings.resolved_database_url())
    try:
        await asyncio.to_thread(migrate, engine)
        store = GalleryStore(engine)
        try:
            row = await asyncio.to_thread(store.get, clip_id_of(clip, public_url))
        except UserFacingError as exc:
            raise FlagError(str(exc)) from None
        styles = StyleFile.from_file(settings.styles_file).menu(settings.backend)
        spec = retake_spec(  # checked before anything else is connected
            row,
            shot,
            capabilities_for(settings.backend),
            styles,
            settings.default_quality,
        )
        redis_url = queue_redis_url(settings)
        pool = await connect_queue(redis_url)
        printer = ProgressPrinter(sys.stdout)
        printer.line(f"retaking shot {shot} of the story; the other shots stay as they were")
        try:
            async with admitting_submitter(pool, store) as submitter:
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
    finally:
        engine.dispose()
    return 0


def add_retake_command(sub: Any) -> None:
    """`reelbot retake CLIP --shot N`, registered by `cli.main.build_parser`."""
    p = sub.add_parser("retake", help="take one shot of a finished story again, as 🎬 Retake")
    p.add_argument("clip", help="the story's id or gallery link")
    p.add_argument("--shot", type=int, required=True, help="which shot, from 1")
    p.add_argument("--timeout", type=float, default=None, help="give up after idle seconds")
    p.set_defaults(run=cmd_retake)
