"""One clip's render: denoise in a thread, scan, watermark, encode, sign, upload, record, announce.

`make_clip` reads as the steps a clip goes through; each step's time lands in the row's timings.
Whether a failure is retried is `worker.tasks`' call; the exceptions here say why a render
stopped early.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from core.speak import SPEAKING
from core.spec import ProgressEvent, RenderJob, RenderSpec
from gallery.media import LocalMediaStore
from gallery.models import Moderation
from gallery.store import GalleryStore
from gallery.visibility import place
from jobs.liveness import Liveness
from worker.announce import announce_done, audit_scan, block_clip, publish_progress
from worker.backends import Backend, RenderedClip
from worker.c2pa_manifest import sign_c2pa
from worker.contact_sheet import contact_sheet
from worker.edit_masks import mask_union_png
from worker.encode import encode_mp4, encode_to_fit, write_poster, write_preview
from worker.output_check import OutputCheck, sheet_png
from worker.provenance import clip_provenance
from worker.remux import add_sound_track
from worker.scan import ScanReport
from worker.settings import WorkerConfig
from worker.sound import needs_sound, parent_frames, with_sound
from worker.speak import keeps_audio, render_speech, speech_for
from worker.speech import Voice
from worker.story import ShotFiles, render_story
from worker.watermark import embed_watermark

log = logging.getLogger(__name__)

STEP_EVENT_INTERVAL_S = 0.25  # progress events per clip are rate-limited to this spacing
# What a render writes into the media store (small.mp4 only when the clip is over the cap).
CLIP_KINDS = ("mp4", "small.mp4", "preview.mp4", "jpg", "sheet.png", "mask.png")


class RenderCancelled(Exception):
    """Raised inside the render thread from the step callback to stop denoising early."""


class OwnerCancelled(Exception):
    """The clip's owner cancelled it while it rendered (`/queue` → Cancel): stop, fail it."""


class LeaseLost(Exception):
    """Another worker took this job over (we stalled past our lease): stop, touch nothing."""


class MissingInput(Exception):
    """A job's input media is not in the store: no retry can fix that, so the clip fails."""


class MissingReference(MissingInput):
    """A `-ref` picture is gone: its character was deleted (or saved over) after the clip was
    queued. A deleted character's picture is never used again, so the clip fails, saying so."""


async def make_clip(ctx: dict[str, Any], job: RenderJob, attempt: int) -> dict[str, Any]:
    """Render, scan, encode, store and announce one clip (this attempt at it); what happened."""
    gid, spec = job.generation_id, job.spec
    store: GalleryStore = ctx["store"]
    media: LocalMediaStore = ctx["media"]
    liveness: Liveness = ctx["liveness"]
    redis = ctx["redis"]
    picked_up = time.time()
    timings: dict[str, float] = {"pickup": max(0.0, picked_up - ctx["enqueue_time"].timestamp())}
    if "load" in ctx["unreported"]:  # this worker's first clip waited for the load
        ctx["unreported"].discard("load")
        timings["load"] = ctx["load_s"]
    inputs = await asyncio.to_thread(input_paths, media, spec.input_media)
    references = await asyncio.to_thread(reference_paths, media, spec.reference_media)  # -ref

    await asyncio.to_thread(store.mark_rendering, gid, worker=liveness.worker_id, attempt=attempt)
    started = ProgressEvent(
        kind="started", total=spec.steps, attempt=attempt, worker=liveness.worker_id
    )
    await publish_progress(redis, gid, started)

    shots = ShotFiles.of(media, spec, gid, attempt) if spec.mode == "story" else None
    if spec.mode == "sound":  # Add sound: the parent's frames, for the scan, poster and preview
        t0 = time.perf_counter()
        clip = await asyncio.to_thread(parent_frames, spec, inputs)
        timings["read"] = time.perf_counter() - t0
    else:
        voice = None
        if spec.mode in SPEAKING:  # /speak: the stored voice, or the typed line voiced (TTS)
            voice, speech_timings = await asyncio.to_thread(speech_for, spec, inputs, ctx["speech"])
            if "load" in speech_timings:  # this clip waited for the TTS model to load
                timings["load"] = timings.get("load", 0.0) + speech_timings.pop("load")
            timings.update(speech_timings)
        clip, render_timings = await _render_in_thread(
            ctx["backend"], job, redis, liveness, inputs, shots, references, voice
        )
        timings.update(render_timings)
    # worker.sound: made for these frames (a story's, over all its shots, whatever the family)
    if needs_sound(spec, ctx["backend"].capabilities) or (spec.mode == "story" and spec.sound):
        t0 = time.perf_counter()
        clip, load_s = await asyncio.to_thread(with_sound, clip, spec, ctx["sound"])
        timings["sound"] = time.perf_counter() - t0 - load_s
        if load_s:  # this clip waited for the sound model to load
            timings["load"] = timings.get("load", 0.0) + load_s
    config: WorkerConfig = ctx["config"]
    provenance = clip_provenance(job, config)

    report: ScanReport | None = None
    check: OutputCheck | None = ctx.get("output_check")
    if check is not None and check.enabled:  # before any file exists: a blocked clip has none
        t0 = time.perf_counter()
        report = await asyncio.to_thread(check.scan, clip.frames, clip.fps, spec.scan_skip)
        timings["scan"] = time.perf_counter() - t0
        if report.decision == "block":
            if not liveness.still_owns(gid):
                raise LeaseLost(gid)
            await block_clip(ctx, gid, report)
            return {"status": "blocked", "generation_id": gid}
    held = report is not None and report.decision == "hold"

    await publish_progress(redis, gid, ProgressEvent(kind="encoding", attempt=attempt))
    # before anything is written: the poster and the copies carry it too (Add sound's frames
    # are the parent's, marked already)
    if config.watermark and spec.mode != "sound":
        t0 = time.perf_counter()
        frames = await asyncio.to_thread(embed_watermark, clip.frames, gid)
        clip = dataclasses.replace(clip, frames=frames)  # the sound stays with the frames
        timings["watermark"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    path = media.path_for(gid)
    tags = provenance.tags()
    if spec.mode == "sound" and clip.audio is not None and clip.sample_rate:
        # the parent's video stream as it is, packet for packet, with the new track
        encoded = await asyncio.to_thread(
            add_sound_track, inputs[0], path, clip.audio, clip.sample_rate, metadata=tags
        )
    else:
        encoded = await asyncio.to_thread(
            encode_mp4,
            clip.frames,
            clip.fps,
            path,
            fps=spec.fps,
            num_frames=spec.num_frames,
            metadata=tags,
            audio=clip.audio if keeps_audio(spec) else None,
            sample_rate=clip.sample_rate,
        )
    upload, poster = await asyncio.to_thread(
        extra_media, media, gid, clip, spec, encoded.size_bytes, tags
    )
    sheet = ""
    if held and report is not None:
        if clip.mask is None:
            png = await asyncio.to_thread(sheet_png, clip.frames, report)
        else:  # an edit's: its mask outlined on each tile
            png = await asyncio.to_thread(contact_sheet, clip.frames, report.frames, mask=clip.mask)
        sheet, _ = await asyncio.to_thread(media.save_bytes, gid, png, "sheet.png")
    if clip.mask is not None:  # an edit's mask, kept with the clip (never public)
        png = await asyncio.to_thread(mask_union_png, clip.mask)
        await asyncio.to_thread(media.save_bytes, gid, png, "mask.png")
    timings["encode"] = time.perf_counter() - t0
    if config.c2pa_cert_file and config.c2pa_key_file:
        t0 = time.perf_counter()
        signed = [path] + ([media.resolve(upload)] if upload else [])
        for target in signed:
            await asyncio.to_thread(
                sign_c2pa,
                target,
                provenance,
                cert_file=config.c2pa_cert_file,
                key_file=config.c2pa_key_file,
            )
        timings["sign"] = time.perf_counter() - t0
        encoded = dataclasses.replace(encoded, size_bytes=path.stat().st_size)
    if not liveness.still_owns(gid):
        raise LeaseLost(gid)
    t0 = time.perf_counter()  # a no-op for the local folder; uploads them to S3, privately
    published = await asyncio.to_thread(media.publish, gid, CLIP_KINDS)
    timings["upload"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    relative = media.relative_path(gid)
    first = await asyncio.to_thread(
        store.mark_done,
        gid,
        media_path=relative,
        size_bytes=encoded.size_bytes,
        timings=timings,
        moderation=Moderation.HELD if held else None,
    )
    # Its public media into the bucket's public prefix if the row says public (never before)
    await asyncio.to_thread(place, store, media, gid)
    timings["store"] = time.perf_counter() - t0
    ctx["metrics"].observe_render(spec, timings, device=config.device)
    review = report.summary() if held and report is not None else ""
    if first and review:
        await audit_scan(ctx, "hold", gid, spec, f"output scan: {review}")
    await announce_done(
        ctx, gid, relative, upload_path=upload, poster_path=poster, review=review, sheet_path=sheet
    )
    # With a bucket, this machine's copies go: its disk holds only the clips it is working on
    kept = shots.local() if shots is not None else []  # a story's shots (worker.story)
    await asyncio.to_thread(media.evict, [*published, *spec.input_media, *kept])
    log.info("done in attempt %d (first=%s): %s", attempt, first, timings)
    return {"status": "done", "generation_id": gid, "timings": timings, "held": held}


def input_paths(media: LocalMediaStore, relative: Sequence[str]) -> tuple[Path, ...]:
    """The spec's input media as files inside the store (downloaded if the store is remote
    and this machine lacks them); MissingInput for any that is not. Blocking.

    `LocalMediaStore.resolve` refuses paths outside the media root, so a forged job cannot make
    a backend read an arbitrary file.
    """
    paths = []
    for item in relative:
        try:
            path = media.fetch(item)
        except ValueError as exc:
            raise MissingInput(str(exc)) from None
        if path is None:
            raise MissingInput(f"input media {item!r} is not in the store")
        paths.append(path)
    return tuple(paths)


def reference_paths(media: LocalMediaStore, relative: Sequence[str]) -> tuple[Path, ...]:
    """`input_paths` for the spec's reference pictures (-ref); MissingReference for one that is
    gone. Blocking."""
    try:
        return input_paths(media, relative)
    except MissingInput as exc:
        raise MissingReference(str(exc)) from None


async def _render_in_thread(
    backend: Backend,
    job: RenderJob,
    redis: Any,
    liveness: Liveness,
    inputs: Sequence[Path] = (),
    shots: ShotFiles | None = None,
    references: Sequence[Path] = (),
    voice: Voice | None = None,
) -> tuple[RenderedClip, dict[str, float]]:
    """Denoise in a thread so the event loop keeps beating; cancel it cooperatively.

    If the task is cancelled (job timeout, abort), the thread is told to stop at its next
    step and we wait for it: the device stays ours until the render really ends.
    """
    loop = asyncio.get_running_loop()
    stop = threading.Event()
    marks = {"last_step": 0.0, "last_event": 0.0}
    gid = job.generation_id

    def on_step(step: int, total: int, shot: str = "") -> None:
        now = time.perf_counter()
        marks["last_step"] = now
        if stop.is_set():
            raise RenderCancelled(gid)
        if not liveness.still_owns(gid):
            raise LeaseLost(gid)
        if liveness.cancel_requested(gid):
            raise OwnerCancelled(gid)
        if step == total or now - marks["last_event"] >= STEP_EVENT_INTERVAL_S:
            marks["last_event"] = now
            event = ProgressEvent(kind="step", step=step, total=total, message=shot)
            asyncio.run_coroutine_threadsafe(publish_progress(redis, gid, event), loop)

    started = time.perf_counter()
    thread_job = asyncio.ensure_future(
        asyncio.to_thread(job_render, backend, job, on_step, inputs, shots, references, voice)
    )
    try:
        clip = await asyncio.shield(thread_job)
    except asyncio.CancelledError:
        stop.set()
        await asyncio.wait([thread_job])
        if not thread_job.cancelled():
            thread_job.exception()  # retrieved: the RenderCancelled we asked for
        raise
    ended = time.perf_counter()
    last_step = marks["last_step"] or ended
    return clip, {"denoise": last_step - started, "decode": ended - last_step}


def job_render(
    backend: Backend,
    job: RenderJob,
    on_step: Any,
    inputs: Sequence[Path] = (),
    shots: ShotFiles | None = None,
    references: Sequence[Path] = (),
    voice: Voice | None = None,
) -> RenderedClip:
    """The blocking render call, named so that profiles and stack dumps read well."""
    if job.spec.sound and not backend.capabilities.sound:  # the bot refuses it; others may not
        name = backend.capabilities.name
        if not backend.capabilities.adds_sound:
            raise ValueError(f"sound=True: the {name} backend makes no sound")
        # silent frames; worker.sound makes their track once they are rendered
        silent = job.spec.model_copy(update={"sound": False, "sound_prompt": ""})
        job = job.model_copy(update={"spec": silent})
    caps = backend.capabilities
    if (job.spec.loop and not caps.loop) or (job.spec.end_frame and not caps.end_frame):
        what = "loop=True" if job.spec.loop else "end_frame=True"
        raise ValueError(f"{what}: the {caps.name} backend can't end a clip on a picture")
    style = job.spec.style
    if style is not None and style.adapter and getattr(backend, "styles", None) is None:
        name = backend.capabilities.name
        raise ValueError(f"the {name} model takes no LoRAs, so `-style {style.name}` can't be used")
    if len(references) > caps.references:  # the bot refuses it; others may not
        raise ValueError(f"the {caps.name} model takes no reference pictures (-ref)")
    if job.spec.mode in SPEAKING:  # the picture (or clip) speaks the voice (worker.speak)
        if voice is None:
            raise ValueError("mode 'speak' needs its voice")
        return render_speech(backend, job.spec, on_step, inputs, voice)
    if job.spec.mode == "story":  # its shots one after another (worker.story)
        return render_story(backend, job.spec, on_step, inputs, shots)
    if references:  # -ref: only families with reference pictures take the argument
        return backend.render(job.spec, on_step, inputs=inputs, references=references)  # type: ignore[call-arg]
    return backend.render(job.spec, on_step, inputs=inputs)


def extra_media(
    media: LocalMediaStore,
    gid: str,
    clip: RenderedClip,
    spec: RenderSpec,
    size_bytes: int,
    metadata: dict[str, str] | None = None,
) -> tuple[str, str]:
    """The poster, the gallery grid's preview, and a copy under the upload cap if the clip is
    over it: relative paths of the copy (or "") and the poster."""
    write_poster(clip.frames, media.path_for(gid, "jpg"))
    write_preview(
        clip.frames,
        clip.fps,
        media.path_for(gid, "preview.mp4"),
        fps=spec.fps,
        num_frames=spec.num_frames,
        metadata=metadata,
    )
    upload = ""
    if spec.upload_limit is not None and size_bytes > spec.upload_limit:
        small = encode_to_fit(
            clip.frames,
            clip.fps,
            media.path_for(gid, "small.mp4"),
            fps=spec.fps,
            num_frames=spec.num_frames,
            max_bytes=spec.upload_limit,
            metadata=metadata,
            audio=clip.audio if keeps_audio(spec) else None,
            sample_rate=clip.sample_rate,
        )
        upload = media.relative_path(gid, "small.mp4") if small else ""
    return upload, media.relative_path(gid, "jpg")


def made_extras(media: LocalMediaStore, gid: str) -> dict[str, str]:
    """The poster and compressed copy an earlier attempt left, for announcing it again."""
    found = {"upload_path": "small.mp4", "poster_path": "jpg", "sheet_path": "sheet.png"}
    return {
        field: media.relative_path(gid, kind)
        for field, kind in found.items()
        if media.path_for(gid, kind).is_file()
    }
