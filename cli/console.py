"""The terminal front end: `reelbot create` takes the same path a Discord request takes."""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from arq.connections import ArqRedis

from bot.messages import about, progress_bar
from cli.characters import parse_with_references
from cli.pictures import (
    Pictures,
    animate_spec,
    hidden_picture_spec,
    store_hidden,
    store_pictures,
)
from core.capabilities import capabilities_for
from core.errors import UserFacingError
from core.flagtext import value_text
from core.rendercaps import Capabilities
from core.spec import DEFAULT_QUALITY, Quality, RenderSpec, StylePreset
from core.styles import DEFAULT_STYLES
from gallery.media import LocalMediaStore
from gallery.store import GalleryStore
from gallery.web import clip_url
from intake.illusions import with_hidden
from intake.media.images import CheckedImage
from intake.submit import Submitter, admitting_submitter, new_generation_id
from jobs.events import follow_events


class RenderFailed(UserFacingError):
    pass


@dataclass(frozen=True)
class CreatedClip:
    generation_id: str
    spec: RenderSpec
    path: Path
    url: str
    seconds: float


class ProgressPrinter:
    """Prints events as one updating line on a terminal, or as plain lines into a pipe/log."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.live = out.isatty()
        self.started = time.monotonic()

    def line(self, text: str, *, final: bool = True) -> None:
        if self.live:
            self.out.write("\r\033[K" + text + ("\n" if final else ""))
        else:
            self.out.write(text + "\n")
        self.out.flush()

    def step(self, step: int, total: int) -> None:
        elapsed = time.monotonic() - self.started
        bar = progress_bar(step, total)
        self.line(f"rendering {bar} {step}/{total} steps  {elapsed:.1f} s", final=not self.live)


def with_sound(text: str, words: str | None) -> str:
    """`reelbot create TEXT --sound [WORDS]` as the line it stands for: `-sound "WORDS"` (or
    `-sound` alone, a sound from the prompt) after the prompt's own flags, read as Discord reads
    it; given both ways, the parser says `-sound` was given twice."""
    if words is None:
        return text
    words = " ".join(words.split())
    return f"{text} -sound {value_text(words)}" if words else f"{text} -sound"


def queued_line(gid: str, spec: RenderSpec, position: int, eta_s: float | None) -> str:
    """What the terminal says once a clip is queued: the same ETA a Discord member sees."""
    ready = "" if eta_s is None else f", ready in {about(eta_s)}"
    return (
        f"queued {gid} (#{position} in queue{ready}): {spec.width}x{spec.height}, "
        f"{spec.num_frames} frames at {spec.fps} fps, seed {spec.seed}, {spec.quality}"
    )


async def create_clip(
    text: str,
    *,
    pool: ArqRedis,
    store: GalleryStore,
    media: LocalMediaStore,
    backend: str,
    public_url: str,
    out: TextIO = sys.stdout,
    owner: str = "cli:local",
    idle_timeout_s: float | None = None,
    default_quality: Quality = DEFAULT_QUALITY,
    capabilities: Capabilities | None = None,
    styles: Mapping[str, StylePreset] = DEFAULT_STYLES,
    pictures: Pictures | None = None,
    hidden: str = "",
    effect: str = "",
    hidden_picture: CheckedImage | None = None,
) -> CreatedClip:
    """Parse, enqueue, follow progress to the end and say where the clip is.

    The operator's terminal has no caps. It runs its own admission loop while it waits, so a
    clip is admitted even where no bot runs (any number of loops may run at once).
    `capabilities` sizes the clip instead of the backend's own (`reelbot up --model` on a CPU).
    `pictures` (`--image`, `--end`) make it /animate's clip, stored before it is queued;
    `hidden` (`--encrypt-text`) a word hidden in it, as /encrypt_text's; `effect` (`--effect`)
    the styles file's effect on the picture, `text` saying what it shows, as /effect's;
    `hidden_picture` (`--encrypt-image`) a picture hidden in it, as /encrypt_image's."""
    caps = capabilities or capabilities_for(backend)
    note = ""
    if pictures is not None:
        spec, note = animate_spec(
            text,
            pictures,
            caps,
            styles,
            owner=owner,
            default_quality=default_quality,
            effect=effect,
        )
    elif hidden_picture is not None:
        spec, note = hidden_picture_spec(
            text, hidden_picture, caps, styles, owner=owner, default_quality=default_quality
        )
    else:
        spec = parse_with_references(  # -ref NAME: a saved character's picture
            text,
            caps,
            styles,  # REELBOT_STYLES_FILE's for the family, as the bot reads them
            store.engine,
            owner_id=owner,
            owner_name=owner,
            default_quality=default_quality,  # REELBOT_DEFAULT_QUALITY, as the bot reads it
        )
        if hidden:
            spec = with_hidden(spec, message=hidden)
    printer = ProgressPrinter(out)
    gid = new_generation_id()
    if pictures is not None:  # in the store under the clip's id before its job can exist
        spec = await asyncio.to_thread(store_pictures, media, gid, pictures, spec)
    if hidden_picture is not None:
        spec = await asyncio.to_thread(store_hidden, media, gid, hidden_picture, spec)
    for line in note.splitlines():
        printer.line(line)
    async with admitting_submitter(pool, store) as submitter:
        return await _follow(
            gid,
            spec,
            submitter,
            pool,
            media,
            public_url,
            printer,
            idle_timeout_s,
        )


async def _follow(
    gid: str,
    spec: RenderSpec,
    submitter: Submitter,
    pool: ArqRedis,
    media: LocalMediaStore,
    public_url: str,
    printer: ProgressPrinter,
    idle_timeout_s: float | None,
) -> CreatedClip:
    submission = await submitter.submit(spec, unlimited=True, generation_id=gid)
    eta_s = await submitter.admission.eta(gid, spec)  # queued by now: the scheduler's own ETA
    printer.line(queued_line(gid, spec, submission.position, eta_s))
    async for event in follow_events(pool, gid, idle_timeout_s=idle_timeout_s):
        if event.kind == "started":
            retry = f" (attempt {event.attempt})" if event.attempt > 1 else ""
            printer.line(f"rendering on {event.worker}{retry}")
        elif event.kind == "step":
            printer.step(event.step, event.total)
        elif event.kind == "encoding":
            printer.line("encoding MP4…")
        elif event.kind == "failed":
            raise RenderFailed(f"Clip {gid} failed: {event.message}")
        elif event.kind == "done":
            found = await asyncio.to_thread(media.fetch, event.media_path)  # S3: downloaded
            path = found or media.resolve(event.media_path)
            url = clip_url(public_url, gid)
            seconds = time.monotonic() - printer.started
            printer.line(f"done in {seconds:.1f} s")
            printer.line(f"file:    {path}")
            printer.line(f"gallery: {url}")
            return CreatedClip(gid, spec, path, url, seconds)
    raise RenderFailed(f"Clip {gid}: the progress stream ended without a result")
