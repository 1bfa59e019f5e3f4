"""`reelbot create "prompt" --image face.png --speak voice.wav` (or `--say "hello"`): /speak from
the terminal, followed to the finished MP4 like any `reelbot create`.

The picture is checked as /animate's and the voice by its content, as Discord attachments are
(`intake.media.voices`: WAV, MP3, OGG/Opus or M4A, at most 20 s and 10 MB); a typed line is
voiced by the worker's TTS. Everything is checked before anything is connected (exit 2 with the
reason); both files are stored under the new clip's id before its job exists.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from core.errors import UserFacingError

if TYPE_CHECKING:
    from bot.settings import BotSettings
    from core.spec import RenderSpec
    from intake.media.images import CheckedImage
    from intake.media.voices import CheckedVoice

Command = Callable[[argparse.Namespace], int]


def add_speak_options(parser: argparse.ArgumentParser) -> None:
    """`--speak VOICE` / `--say LINE` on `reelbot create`, wrapping the command it runs."""
    parser.add_argument(
        "--speak",
        type=Path,
        default=None,
        metavar="VOICE",
        help="with --image: the picture speaks this voice (WAV, MP3, OGG/Opus, M4A; <= 20 s), "
        "as /speak",
    )
    parser.add_argument(
        "--say",
        default=None,
        metavar="LINE",
        help="with --image: the picture says LINE in a generated voice, as /speak's text",
    )
    before: Command = parser.get_default("run")

    def run(args: argparse.Namespace) -> int:
        return cmd_speak(args) if args.speak or args.say else before(args)

    parser.set_defaults(run=run)


def _read(path: Path, limit: int) -> bytes:
    try:
        if path.stat().st_size > limit:
            raise UserFacingError(f"`{path.name}` is over {limit // 2**20} MB.")
        return path.read_bytes()
    except OSError as exc:
        raise UserFacingError(f"Can't read `{path}`: {exc.strerror or exc}.") from None


def speak_request(
    text: str,
    picture: CheckedImage,
    voice: CheckedVoice | None,
    line: str,
    settings: BotSettings,
) -> RenderSpec:
    """The /speak request before its files are stored (its `input_media` still empty)."""
    from core.capabilities import UnknownBackend, capabilities_for
    from core.errors import ConfigError
    from core.flags import resolve_request
    from core.stylefile import StyleFile
    from intake.followups import read_text
    from intake.modes import framed_for_picture, require_mode
    from intake.speak import refuse_flags, speak_prompt, text_length, typed_draft, voice_length

    try:
        capabilities = capabilities_for(settings.backend)
    except UnknownBackend as exc:
        raise ConfigError(f"REELBOT_BACKEND: {exc}.") from None
    require_mode(capabilities, "speak", "make pictures speak")
    styles = StyleFile.from_file(settings.styles_file).menu(settings.backend)
    parsed = read_text(speak_prompt(text), capabilities, styles)
    refuse_flags(parsed)
    framed, _note = framed_for_picture(parsed, picture.source_width, picture.source_height)
    if voice is not None:
        framed = voice_length(framed, voice.seconds, capabilities)
    else:
        framed = text_length(framed, capabilities)
    spec = resolve_request(
        framed,
        capabilities=capabilities,
        owner_id="cli:local",
        owner_name="cli:local",
        default_quality=settings.default_quality,
    )
    return typed_draft(spec, line) if line else spec


def cmd_speak(args: argparse.Namespace) -> int:
    from bot.settings import BotSettings
    from core.speak import MAX_VOICE_BYTES
    from gallery.dburl import database_checked
    from intake.media.images import MAX_BYTES, check_image
    from intake.media.voices import check_voice
    from intake.speak import check_request
    from jobs.settings import load_settings

    if args.image is None or args.end or args.frames or args.encrypt_text or args.sound:
        raise UserFacingError(
            "`--speak`/`--say` take one picture, `--image FACE.png`, and nothing else of "
            "--end, --frames, --sound or --encrypt-text."
        )
    line = check_request(args.speak is not None, args.say)
    picture = check_image(_read(args.image, MAX_BYTES), args.image.name)
    voice = None
    if args.speak is not None:
        voice = check_voice(_read(args.speak, MAX_VOICE_BYTES), args.speak.name)
    settings = load_settings(BotSettings)
    with database_checked(settings.resolved_database_url()):
        spec = speak_request(args.text, picture, voice, line, settings)
        return asyncio.run(_follow_speech(settings, spec, picture, voice, line, args.timeout))


async def _follow_speech(
    settings: BotSettings,
    spec: RenderSpec,
    picture: CheckedImage,
    voice: CheckedVoice | None,
    line: str,
    timeout: float | None,
    out: TextIO = sys.stdout,
) -> int:
    from cli.console import ProgressPrinter, _follow
    from cli.up import read_run_file
    from core.speak import VOICE_KIND
    from gallery.db import make_engine, migrate
    from gallery.mediastore import make_media_store
    from gallery.store import GalleryStore
    from intake.speak import speak_note, with_speech
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
    media = make_media_store(settings)
    gid = new_generation_id()
    stored, _ = await asyncio.to_thread(media.save_bytes, gid, picture.png, "png")
    kept = None
    if voice is not None:
        kept, _ = await asyncio.to_thread(media.save_bytes, gid, voice.wav, VOICE_KIND)
    spec = with_speech(spec, stored, kept, line)
    public_url = (
        settings.public_url
        or read_run_file(settings.data_dir, "gallery.url")
        or settings.resolved_public_url()
    )
    printer = ProgressPrinter(out)
    printer.line(speak_note(voice.seconds if voice is not None else None, line))
    try:
        async with admitting_submitter(pool, GalleryStore(engine)) as submitter:
            await _follow(gid, spec, submitter, pool, media, public_url, printer, timeout)
    finally:
        await pool.aclose()
        engine.dispose()
    return 0
