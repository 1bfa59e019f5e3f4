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
from typing import TYPE_CHECKING, Any, TextIO

from core.errors import UserFacingError
from core.speak import VOICE_KIND

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
    parser.add_argument(
        "--speak-clip",
        default=None,
        metavar="CLIP",
        help="with --speak or --say: this finished clip (id or gallery link) speaks instead of a "
        "picture, as /speak clip:; TEXT is what it shows ('' keeps the clip's words)",
    )
    before: Command = parser.get_default("run")

    def run(args: argparse.Namespace) -> int:
        if args.speak_clip is not None:
            return cmd_speak_clip(args)
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


class _Terminal:
    """Who asks at the terminal: the operator (no server, no channel, no upload cap)."""

    owner_id = "cli:local"
    display_name = "cli:local"
    guild_id = None
    channel_id = None
    upload_limit = None


def cmd_speak_clip(args: argparse.Namespace) -> int:
    """`reelbot create TEXT --speak-clip CLIP --speak VOICE | --say LINE`: the clip named (an
    id or a gallery link) and the voice checked before anything connects; the clip itself is
    read from the gallery database and checked as /speak clip: checks it (the terminal is the
    operator's: hidden clips may speak)."""
    from bot.settings import BotSettings
    from core.capabilities import UnknownBackend, capabilities_for
    from core.errors import ConfigError
    from core.speak import MAX_VOICE_BYTES, SPEAK_CLIP
    from core.spec import RenderSpec
    from gallery.db import make_engine, migrate
    from gallery.dburl import database_checked
    from gallery.store import GalleryStore
    from intake.edits import check_parent, clip_id_of
    from intake.media.voices import check_voice
    from intake.modes import require_mode
    from intake.speak import check_request
    from intake.speakclip import clip_prompt, speak_clip_note, speak_clip_spec
    from jobs.settings import load_settings

    if args.image or args.end or args.frames or args.encrypt_text or args.sound:
        raise UserFacingError(
            "`--speak-clip` makes a clip speak: leave out --image, --end, --frames, --sound "
            "and --encrypt-text."
        )
    line = check_request(args.speak is not None, args.say)
    gid = clip_id_of(args.speak_clip)
    voice = None
    if args.speak is not None:
        voice = check_voice(_read(args.speak, MAX_VOICE_BYTES), args.speak.name)
    settings = load_settings(BotSettings)
    try:
        capabilities = capabilities_for(settings.backend)
    except UnknownBackend as exc:
        raise ConfigError(f"REELBOT_BACKEND: {exc}.") from None
    require_mode(capabilities, SPEAK_CLIP, "make clips speak")
    with database_checked(settings.resolved_database_url()):
        engine = make_engine(settings.resolved_database_url())
        try:
            migrate(engine)
            row = GalleryStore(engine).get(gid)
        finally:
            engine.dispose()
        media = check_parent(row, _Terminal.owner_id, moderates=True)
        assert row is not None
        parent = RenderSpec.model_validate(row.spec)
        clip_prompt(args.text, parent)  # flags refused before anything connects
        seconds = voice.seconds if voice is not None else None

        def make(gid_new: str, store: Any) -> RenderSpec:
            kept = None
            if voice is not None:
                kept, _ = store.save_bytes(gid_new, voice.wav, VOICE_KIND)
            return speak_clip_spec(
                parent,
                row.id,
                _Terminal(),
                capabilities,
                parent_media=media,
                prompt=args.text,
                voice=kept,
                voice_seconds=seconds,
                line=line,
                default_quality=settings.default_quality,
            )

        # sized (and a long voice refused) before connecting; stored once the id exists
        placeholder = f"{media.removesuffix('.mp4')}.{VOICE_KIND}" if voice is not None else None
        draft = speak_clip_spec(
            parent,
            row.id,
            _Terminal(),
            capabilities,
            parent_media=media,
            prompt=args.text,
            voice=placeholder,
            voice_seconds=seconds,
            line=line,
        )
        note = speak_clip_note(parent, draft, seconds)
        return asyncio.run(_follow_made(settings, make, note, args.timeout))


async def _follow_speech(
    settings: BotSettings,
    spec: RenderSpec,
    picture: CheckedImage,
    voice: CheckedVoice | None,
    line: str,
    timeout: float | None,
    out: TextIO = sys.stdout,
) -> int:
    from intake.speak import speak_note, with_speech

    def make(gid: str, media: Any) -> RenderSpec:
        stored, _ = media.save_bytes(gid, picture.png, "png")
        kept = None
        if voice is not None:
            kept, _ = media.save_bytes(gid, voice.wav, VOICE_KIND)
        return with_speech(spec, stored, kept, line)

    note = speak_note(voice.seconds if voice is not None else None, line)
    return await _follow_made(settings, make, note, timeout, out)


async def _follow_made(
    settings: BotSettings,
    make: Callable[[str, Any], RenderSpec],
    note: str,
    timeout: float | None,
    out: TextIO = sys.stdout,
) -> int:
    """Connect, store the request's files under a new id (`make`, in a thread: it writes
    files), then follow the clip to its MP4 as `reelbot create` does."""
    from cli.console import ProgressPrinter, _follow
    from cli.up import queue_redis_url, read_run_file
    from gallery.db import make_engine, migrate
    from gallery.mediastore import make_media_store
    from gallery.store import GalleryStore
    from intake.submit import admitting_submitter, connect_queue, new_generation_id

    redis_url = queue_redis_url(settings)
    pool = await connect_queue(redis_url)
    engine = make_engine(settings.resolved_database_url())
    await asyncio.to_thread(migrate, engine)
    media = make_media_store(settings)
    gid = new_generation_id()
    spec = await asyncio.to_thread(make, gid, media)
    public_url = (
        settings.public_url
        or read_run_file(settings.data_dir, "gallery.url")
        or settings.resolved_public_url()
    )
    printer = ProgressPrinter(out)
    printer.line(note)
    try:
        async with admitting_submitter(pool, GalleryStore(engine)) as submitter:
            await _follow(gid, spec, submitter, pool, media, public_url, printer, timeout)
    finally:
        await pool.aclose()
        engine.dispose()
    return 0
