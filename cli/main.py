"""The `reelbot` command: parse, create, up, status, bot, api, worker, gallery (verify and scan
in cli/verify_scan.py, media, token, models and styles in modules of their own)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from bot import eventloop
from cli.edit import add_edit_command
from cli.media import add_media_commands
from cli.speak import add_speak_options
from cli.story import add_retake_command, add_story_option
from cli.verify_scan import add_inspect_commands, gallery_settings
from core.errors import ConfigError, FlagError, UserFacingError

if TYPE_CHECKING:
    from bot.settings import BotSettings
    from core.rendercaps import Capabilities

EXIT_BAD_INPUT = 2
EXIT_UNAVAILABLE = 3


def load_settings() -> BotSettings:
    """The settings, or a ConfigError naming each bad REELBOT_ variable (a line each)."""
    from bot.settings import BotSettings
    from jobs.settings import load_settings as load

    return load(BotSettings)


def loaded_capabilities(settings: BotSettings) -> Capabilities:
    from core.capabilities import UnknownBackend, capabilities_for

    try:
        return capabilities_for(settings.backend)
    except UnknownBackend as exc:
        raise ConfigError(f"REELBOT_BACKEND: {exc}.") from None


def cmd_parse(args: argparse.Namespace) -> int:
    """Print how the bot reads a request, as one JSON object."""
    from core.flags import parse_request
    from core.stylefile import StyleFile

    settings = load_settings()
    styles = StyleFile.from_file(settings.styles_file).menu(settings.backend)
    spec = parse_request(args.text, capabilities=loaded_capabilities(settings), styles=styles)
    print(json.dumps(spec.model_dump(mode="json"), ensure_ascii=False))
    return 0


def cmd_policy(args: argparse.Namespace) -> int:
    """Print what the prompt policy decides about a text, as one JSON object (exit 0 even when
    it blocks). With --toxicity, also what the abuse classifier adds, as the bot screens it:
    its score (null when off) and a flag at REELBOT_TOXICITY_THRESHOLD if the words allowed."""
    from core.policy import Policy

    settings = load_settings()
    decision = Policy.from_file(settings.policy_file).check(args.text, args.negative)
    out: dict[str, object] = dict(decision.to_json())
    if args.toxicity:
        from intake.toxicity import ToxicityCheck

        check = ToxicityCheck.load(settings.toxicity_threshold)
        score = check.probability(args.text) if check is not None else None
        if check is not None and decision.decision == "allow":
            out.update((check.decide(args.text, decision.normalized) or decision).to_json())
        out["toxicity"] = None if score is None else round(score, 4)
    print(json.dumps(out, ensure_ascii=False))
    return 0


def cmd_create(args: argparse.Namespace) -> int:
    from cli.console import with_sound
    from gallery.dburl import database_checked

    settings = load_settings()
    with database_checked(settings.resolved_database_url()):
        text = with_sound(args.text, args.sound)  # --sound WORDS: -sound "WORDS"
        pictures = (args.image, args.end)  # --image, --end: /animate's picture and end_image
        hidden = args.encrypt_text or ""  # --encrypt-text GM: /encrypt_text's message
        frames = tuple(args.frames or ())  # --frames A B …: /frames' pictures
        effect = args.effect or ""  # --effect squish: /effect's effect on --image
        logo = args.encrypt_image  # --encrypt-image LOGO: /encrypt_image's picture
        return asyncio.run(
            _create(settings, text, args.timeout, pictures, hidden, frames, effect, logo)
        )


async def _create(
    settings: BotSettings,
    text: str,
    timeout: float | None,
    pictures: tuple[Path | None, Path | None] = (None, None),
    hidden: str = "",
    frames: tuple[Path, ...] = (),
    effect: str = "",
    hidden_image: Path | None = None,
) -> int:
    from cli.characters import parse_with_references
    from cli.console import create_clip
    from cli.pictures import animate_spec, check_picture, hidden_picture_spec, read_pictures
    from cli.up import queue_redis_url, read_run_file
    from core.stylefile import StyleFile
    from gallery.db import make_engine, migrate
    from gallery.mediastore import make_media_store
    from gallery.store import GalleryStore
    from intake.illusions import require_illusion, with_hidden
    from intake.submit import connect_queue

    # Bad flags and pictures are reported before anything is started or connected.
    styles = StyleFile.from_file(settings.styles_file).menu(settings.backend)
    capabilities = loaded_capabilities(settings)
    if hidden_image is not None and (pictures[0] or frames or hidden):
        raise UserFacingError(
            "--encrypt-image hides a picture in a clip made from the text: leave out "
            "--image, --frames and --encrypt-text."
        )
    checked = read_pictures(*pictures, capabilities, frames)
    if hidden and checked is not None:
        raise UserFacingError(
            "--encrypt-text hides a word in a clip made from a prompt, not --image or --frames."
        )
    if effect and checked is None:
        raise UserFacingError(
            "`--effect` animates a picture: give it with `--image PICTURE` (the text says what "
            "the picture shows)."
        )
    hidden_picture = None
    if hidden_image is not None:  # --encrypt-image: the picture hidden in a clip of the text
        hidden_picture = check_picture(hidden_image)
        quality = settings.default_quality
        hidden_picture_spec(
            text, hidden_picture, capabilities, styles, owner="", default_quality=quality
        )
    elif checked is None:
        spec = parse_with_references(text, capabilities, styles, settings.resolved_database_url())
        if hidden:
            require_illusion(capabilities)
            with_hidden(spec, message=hidden)
    else:
        quality = settings.default_quality
        animate_spec(
            text, checked, capabilities, styles, owner="", default_quality=quality, effect=effect
        )
    redis_url = queue_redis_url(settings)
    pool = await connect_queue(redis_url)
    engine = make_engine(settings.resolved_database_url())
    await asyncio.to_thread(migrate, engine)
    try:
        await create_clip(
            text,
            pool=pool,
            store=GalleryStore(engine),
            media=make_media_store(settings),
            backend=settings.backend,
            # the address `reelbot up` really serves on (it may have had to pick another port)
            public_url=settings.public_url
            or read_run_file(settings.data_dir, "gallery.url")
            or settings.resolved_public_url(),
            idle_timeout_s=timeout,
            default_quality=settings.default_quality,
            styles=styles,
            pictures=checked,
            hidden=hidden,
            effect=effect,
            hidden_picture=hidden_picture,
        )
    finally:
        await pool.aclose()
        engine.dispose()
    return 0


def start_logging() -> None:
    """JSON lines unless stderr is a terminal (REELBOT_LOG_FORMAT=json|text overrides)."""
    from core.logs import configure_logging

    try:
        configure_logging(logging.INFO)
    except ValueError as exc:
        raise ConfigError(f"{exc}.") from None


def cmd_status(args: argparse.Namespace) -> int:
    """Print the workers, the queues and the oldest waiting request (a table, or JSON)."""
    return asyncio.run(_status(load_settings(), as_json=args.json))


async def _status(settings: BotSettings, *, as_json: bool) -> int:
    from redis.exceptions import RedisError

    from cli.status import read_status, render_status
    from cli.up import read_run_file
    from core.errors import QueueUnavailable
    from intake.submit import connect_queue, redacted

    redis_url = settings.redis_url or read_run_file(settings.data_dir, "redis.url")
    if not redis_url:
        raise UserFacingError(
            "No Redis configured and no `reelbot up` running here. Start `reelbot up`, "
            "or set REELBOT_REDIS_URL to your server."
        )
    pool = await connect_queue(redis_url)
    try:
        status = await read_status(pool)
    except (RedisError, OSError) as exc:
        raise QueueUnavailable(
            f"Lost Redis at {redacted(redis_url)} ({exc.__class__.__name__})."
        ) from None
    finally:
        await pool.aclose()
    print(json.dumps(status, ensure_ascii=False) if as_json else render_status(status))
    return 0


def cmd_up(args: argparse.Namespace) -> int:
    from cli.up import DEMO_PROMPT, run_up
    from gallery.dburl import database_checked

    settings = load_settings()
    start_logging()
    if args.workers is not None:
        settings = settings.model_copy(update={"workers": args.workers})
    demo = None if args.no_demo else (args.demo_prompt or DEMO_PROMPT)
    try:
        with database_checked(settings.resolved_database_url()):
            return eventloop.run(
                run_up(settings, demo_prompt=demo, exit_after_demo=args.once, model=args.model)
            )
    except KeyboardInterrupt:
        return 0


def cmd_bot(args: argparse.Namespace) -> int:
    from bot.app import run_bot
    from cli.up import read_run_file
    from gallery.dburl import database_checked

    settings = load_settings()
    start_logging()
    redis_url = settings.redis_url or read_run_file(settings.data_dir, "redis.url")
    if not redis_url:
        raise UserFacingError("Set REELBOT_REDIS_URL (or run `reelbot up`, which starts the bot).")
    with (
        contextlib.suppress(KeyboardInterrupt),
        database_checked(settings.resolved_database_url()),
    ):
        eventloop.run(
            run_bot(settings, redis_url=redis_url, public_url=settings.resolved_public_url())
        )
    return 0


def cmd_api(args: argparse.Namespace) -> int:
    from api.app import run_api
    from api.settings import ApiSettings
    from cli.up import read_run_file
    from gallery.dburl import database_checked
    from jobs.settings import load_settings as load

    settings = load(ApiSettings)
    start_logging()
    redis_url = settings.redis_url or read_run_file(settings.data_dir, "redis.url")
    if not redis_url:
        raise UserFacingError("Set REELBOT_REDIS_URL (or run `reelbot up`, which serves the API).")
    with (
        contextlib.suppress(KeyboardInterrupt),
        database_checked(settings.resolved_database_url()),
    ):
        eventloop.run(run_api(settings, redis_url=redis_url))
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    from worker.__main__ import main as worker_main

    return worker_main()


def cmd_gallery(args: argparse.Namespace) -> int:
    from gallery.dburl import reaching_database
    from gallery.web import run_gallery

    settings = gallery_settings()
    start_logging()
    with reaching_database(settings.resolved_database_url()):
        run_gallery(settings)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="reelbot", description="Make short AI video clips together, on your own GPUs."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("parse", help="show how a prompt with flags is read (JSON)")
    p.add_argument("text", help='prompt with flags, e.g. "a fox -motion 3 -ar 9:16"')
    p.set_defaults(run=cmd_parse)

    p = sub.add_parser("policy", help="show what the prompt policy decides about a text (JSON)")
    p.add_argument("text", help="the prompt, without flags")
    p.add_argument("--negative", default="", help="the negative prompt")
    p.add_argument(
        "--toxicity", action="store_true", help="also score the prompt with the abuse classifier"
    )
    p.set_defaults(run=cmd_policy)

    p = sub.add_parser("create", help="make a clip through the queue, as /create does")
    p.add_argument("text", help="prompt with flags")
    p.add_argument(
        "--timeout", type=float, default=None, help="give up after this many idle seconds"
    )
    p.add_argument(
        "--image", type=Path, default=None, metavar="PICTURE", help="animate it, as /animate does"
    )
    p.add_argument(
        "--frames",
        type=Path,
        nargs="+",
        default=None,
        metavar="PICTURE",
        help='2-5 pictures for one clip through them all, as /frames ("dawn | noon" per change)',
    )
    p.add_argument(
        "--end",
        type=Path,
        default=None,
        metavar="PICTURE",
        help="with --image: end the clip on this picture, as /animate's end_image",
    )
    p.add_argument(
        "--sound",
        nargs="?",
        const="",
        default=None,
        metavar="WORDS",
        help='a sound track made from WORDS (or the prompt), as -sound "WORDS" does',
    )
    p.add_argument(
        "--encrypt-text",
        default=None,
        metavar="MESSAGE",
        help="hide MESSAGE (at most 20 characters) in the clip, as /encrypt_text does",
    )
    p.add_argument(
        "--encrypt-image",
        type=Path,
        default=None,
        metavar="PICTURE",
        help="hide PICTURE (a logo works best) in the clip, as /encrypt_image does",
    )
    p.add_argument(
        "--effect",
        default=None,
        metavar="NAME",
        help="with --image: the styles file's effect NAME, the text saying what the picture "
        "shows, as /effect does (`reelbot styles` lists them)",
    )
    add_story_option(p, cmd_create)  # --story: the text is a story (cli/story.py)
    add_speak_options(p)  # --speak VOICE / --say LINE with --image: /speak (cli/speak.py)

    p = sub.add_parser("up", help="run everything locally and make a first clip")
    p.add_argument("--workers", type=int, default=None, help="local worker processes")
    p.add_argument("--no-demo", action="store_true", help="do not make the first clip")
    p.add_argument("--demo-prompt", default=None, help="prompt of the first clip")
    p.add_argument("--once", action="store_true", help="exit after the first clip")
    p.add_argument(
        "--model",
        default=None,
        metavar="ID_OR_FOLDER",
        help="a real model (a family, hub id or folder): pulled if missing, first clip sized "
        "for this machine",
    )
    p.set_defaults(run=cmd_up)

    p = sub.add_parser("status", help="show workers, queue depths and the oldest waiting request")
    p.add_argument("--json", action="store_true", help="one line of JSON instead of tables")
    p.set_defaults(run=cmd_status)

    from cli.models import add_models_command  # reelbot models, models check, models pull

    add_models_command(sub)
    from cli.styles import add_styles_command  # reelbot styles, styles check

    add_styles_command(sub)

    p = sub.add_parser("bot", help="run the Discord bot (needs REELBOT_DISCORD_TOKEN)")
    p.set_defaults(run=cmd_bot)

    p = sub.add_parser("api", help="serve the REST API (needs REELBOT_REDIS_URL)")
    p.set_defaults(run=cmd_api)

    p = sub.add_parser("worker", help="run one render worker (needs REELBOT_REDIS_URL)")
    p.set_defaults(run=cmd_worker)

    p = sub.add_parser("gallery", help="serve the web gallery")
    p.set_defaults(run=cmd_gallery)

    add_media_commands(sub)
    add_inspect_commands(sub)
    add_edit_command(sub)  # reelbot edit
    add_retake_command(sub)  # reelbot retake: 🎬 Retake (cli/story.py)
    from cli.token import add_token_commands  # reelbot token create|list|revoke

    add_token_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args))
    except FlagError as exc:
        say(exc)
        return EXIT_BAD_INPUT
    except UserFacingError as exc:
        say(exc)
        return EXIT_UNAVAILABLE


def say(exc: Exception) -> None:
    """The error on stderr, `reelbot: ` before each of its lines (one per bad setting)."""
    for line in str(exc).splitlines() or [type(exc).__name__]:
        print(f"reelbot: {line}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
