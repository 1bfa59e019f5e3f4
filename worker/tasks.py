"""The arq side of a worker: start-up (load the pipeline once), the `render_clip` task, shutdown.

Only `startup` creates resources; they live in arq's `ctx` and are passed down from there.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import socket
import sys
import threading
import time
import uuid
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

from arq import Retry
from arq.worker import func
from pydantic import ValidationError
from redis.exceptions import RedisError

from core.errors import BLOCKED_MESSAGE
from core.ids import GENERATION_ID
from core.spec import (
    RENDER_TASK,
    SCAN_TASK,
    ProgressEvent,
    RenderJob,
    RenderSpec,
    ResultRecord,
    cancel_key,
    deserialize_job,
    serialize_job,
)
from gallery.db import make_engine, migrate
from gallery.media import LocalMediaStore
from gallery.mediastore import make_media_store
from gallery.models import Moderation
from gallery.moderation import ModerationStore
from gallery.store import GalleryStore
from jobs.admission import Admission
from jobs.events import publish_event
from jobs.liveness import Liveness
from jobs.metrics_endpoint import MetricsEndpoint
from jobs.results import publish_result_once
from worker.backends import Backend, RenderedClip, load_backend
from worker.backends.common import UnreadableVideo
from worker.c2pa_manifest import sign_c2pa
from worker.encode import encode_mp4, encode_to_fit, write_poster, write_preview
from worker.metrics import WorkerMetrics, count_outcomes
from worker.output_check import OutputCheck, sheet_png
from worker.provenance import clip_provenance
from worker.reconcile import reconcile_forever
from worker.scan import ScanReport
from worker.settings import WorkerConfig
from worker.watermark import embed_watermark

log = logging.getLogger(__name__)

STEP_EVENT_INTERVAL_S = 0.25  # progress events per clip are rate-limited to this spacing


class RenderCancelled(Exception):
    """Raised inside the render thread from the step callback to stop denoising early."""


class OwnerCancelled(Exception):
    """The clip's owner cancelled it while it rendered (`/queue` → Cancel): stop, fail it."""


class LeaseLost(Exception):
    """Another worker took this job over (we stalled past our lease): stop, touch nothing."""


class MissingInput(Exception):
    """A job's input media is not in the store: no retry can fix that, so the clip fails."""


# The same job would fail the same way again: fail the clip at once instead of retrying.
PERMANENT_ERRORS = (MissingInput, ValueError, TypeError)
CANCELLED = "cancelled by owner"
ANNOUNCE_TRIES = 8  # the finished clip's announcement outlasts a Redis restart of ~30 s
# What a render writes into the media store (small.mp4 only when the clip is over the cap).
CLIP_KINDS = ("mp4", "small.mp4", "preview.mp4", "jpg", "sheet.png")
SYSTEM = "system"  # the moderator of record for what the output scan decides


async def startup(ctx: dict[str, Any]) -> None:
    config: WorkerConfig = ctx["config"]
    ctx["metrics"] = WorkerMetrics()
    started = time.perf_counter()
    ctx["backend"] = await asyncio.to_thread(
        load_backend, config.backend, model=config.model, device=config.device
    )
    ctx["output_check"] = await asyncio.to_thread(OutputCheck.from_config, config)
    ctx["load_s"] = time.perf_counter() - started
    engine = make_engine(config.resolved_database_url())
    await asyncio.to_thread(migrate, engine)
    ctx["store"] = GalleryStore(engine)
    ctx["moderation"] = ModerationStore(engine)
    ctx["media"] = make_media_store(config)
    worker_id = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    liveness = Liveness(
        ctx["redis"],
        worker_id,
        interval_s=config.heartbeat_s,
        lease_s=config.lease_s,
        queue=config.queue_name,
    )
    # arq hands each job a copy of ctx: a shared mutable set is what the first clip can clear
    ctx["unreported"] = {"load"}
    ctx["liveness"] = liveness
    ctx["liveness_task"] = asyncio.create_task(liveness.run())
    # Every worker also feeds the queues from the fair scheduler's member lists, so clips are
    # admitted whether or not a bot is running (any number of admission loops may run).
    ctx["admission"] = Admission(ctx["redis"])
    ctx["admission_task"] = asyncio.create_task(ctx["admission"].run())
    deadline = timedelta(seconds=config.job_timeout_s + config.lease_s + 60)
    ctx["reconcile_task"] = asyncio.create_task(
        reconcile_forever(
            ctx["store"],
            ctx["admission"],
            every_s=config.reconcile_s,
            deadline=deadline,
            grace=timedelta(seconds=config.reconcile_grace_s),
        )
    )
    if config.metrics_port is not None:
        try:
            ctx["metrics_endpoint"] = await ctx["metrics"].serve(
                config.metrics_port, ctx["admission"]
            )
        except OSError as exc:  # a port in use must not cost the community a worker
            log.error("metrics not served on port %d: %s", config.metrics_port, exc)
    log.info(
        "worker %s ready: backend %s loaded in %.1f s", worker_id, config.backend, ctx["load_s"]
    )


async def shutdown(ctx: dict[str, Any]) -> None:
    for name in ("liveness_task", "admission_task", "reconcile_task"):
        task: asyncio.Task[None] | None = ctx.get(name)
        if task:
            task.cancel()
    liveness: Liveness | None = ctx.get("liveness")
    if liveness:
        await liveness.stop()
    endpoint: MetricsEndpoint | None = ctx.get("metrics_endpoint")
    if endpoint:
        await endpoint.stop()


async def render_clip(ctx: dict[str, Any], payload: dict[str, Any]) -> dict[str, Any]:
    """Render, encode, store and announce one clip; safe to run again for the same id."""
    try:
        job = RenderJob.model_validate(payload)
    except ValidationError as exc:  # never retried: the same payload would fail again
        log.error("rejected malformed job %s: %s", ctx.get("job_id"), exc)
        return {"status": "rejected"}
    config: WorkerConfig = ctx["config"]
    store: GalleryStore = ctx["store"]
    gid = job.generation_id
    attempt: int = ctx["job_try"]

    existing = await asyncio.to_thread(store.get, gid)
    if existing is not None and existing.status == "done":
        # A retry of a job that finished just before its worker died: announce, don't re-render.
        log.info("[%s] already done; re-announcing", gid)
        await _announce_done(ctx, gid, existing.media_path or "", **made_extras(ctx["media"], gid))
        return {"status": "done", "generation_id": gid}
    if attempt > config.max_tries:
        await _fail(ctx, gid, f"the worker stopped {attempt - 1} times while rendering this clip")
        return {"status": "failed", "generation_id": gid}
    if attempt == 1:  # a retry's wait would count its earlier attempts
        requested = existing.created_at if existing is not None else None
        ctx["metrics"].observe_wait(requested, ctx["enqueue_time"])

    liveness: Liveness = ctx["liveness"]
    await liveness.claim(gid)
    try:
        # Our own deadline, inside arq's: a render past it is stopped and retried (arq would
        # treat its own timeout as final and leave the clip unanswered).
        async with asyncio.timeout(config.job_timeout_s):
            return await _render(ctx, job, attempt)
    except LeaseLost:
        log.warning("[%s] another worker took this clip over; leaving it to them", gid)
        return {"status": "superseded", "generation_id": gid}
    except OwnerCancelled:
        await _fail(ctx, gid, CANCELLED)
        await ctx["redis"].delete(cancel_key(gid))
        return {"status": "cancelled", "generation_id": gid}
    except (Retry, asyncio.CancelledError):
        raise
    except Exception as exc:
        log.exception("[%s] attempt %d failed", gid, attempt)
        row = await asyncio.to_thread(store.get, gid)
        if row is not None and row.status == "done":  # the first final status wins
            await _announce_done(ctx, gid, row.media_path or "", **made_extras(ctx["media"], gid))
            return {"status": "done", "generation_id": gid}
        if isinstance(exc, PERMANENT_ERRORS) or out_of_memory(exc) or attempt >= config.max_tries:
            await _fail(ctx, gid, failure_reason(exc, config, attempts=attempt))
            return {"status": "failed", "generation_id": gid}
        raise Retry(defer=min(2 * attempt, 30)) from exc
    finally:
        await liveness.release(gid)
        if (admission := ctx.get("admission")) is not None:
            admission.kick()  # this worker is free: admit the next clip now


def out_of_memory(exc: BaseException) -> bool:
    """torch's out-of-memory error (a subclass of RuntimeError), without importing torch here.

    Not retried: renders are deterministic, so the same clip on the same GPU needs the same
    memory again, and each retry would hold the GPU (and the queue behind it) to fail once more.
    """
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(exc, torch.cuda.OutOfMemoryError)


def failure_reason(exc: BaseException, config: WorkerConfig, *, attempts: int = 1) -> str:
    """What the member is told, in their words, not ours."""
    if isinstance(exc, MissingInput):
        return "its input image is missing; please send it again"
    if isinstance(exc, TimeoutError):
        return f"it took longer than this server allows ({config.job_timeout_s} s)"
    if isinstance(exc, UnreadableVideo):  # a member's upload: its message is for them
        return str(exc)
    if isinstance(exc, ValueError | TypeError):
        return f"the model can't render these settings ({str(exc)[:200]})"
    if out_of_memory(exc):
        return "the GPU ran out of memory on this clip; a shorter one (a lower -len) needs less"
    if attempts > 1:
        return f"rendering failed {attempts} times in a row ({type(exc).__name__}), so I stopped"
    return f"rendering failed ({type(exc).__name__})"


async def _render(ctx: dict[str, Any], job: RenderJob, attempt: int) -> dict[str, Any]:
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

    await asyncio.to_thread(store.mark_rendering, gid, worker=liveness.worker_id, attempt=attempt)
    started = ProgressEvent(
        kind="started", total=spec.steps, attempt=attempt, worker=liveness.worker_id
    )
    await publish_progress(redis, gid, started)

    clip, render_timings = await _render_in_thread(ctx["backend"], job, redis, liveness, inputs)
    timings.update(render_timings)
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
            await _block(ctx, gid, report)
            return {"status": "blocked", "generation_id": gid}
    held = report is not None and report.decision == "hold"

    await publish_progress(redis, gid, ProgressEvent(kind="encoding", attempt=attempt))
    if config.watermark:  # before anything is written: the poster and the copies carry it too
        t0 = time.perf_counter()
        frames = await asyncio.to_thread(embed_watermark, clip.frames, gid)
        clip = dataclasses.replace(clip, frames=frames)  # the sound stays with the frames
        timings["watermark"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    path = media.path_for(gid)
    tags = provenance.tags()
    encoded = await asyncio.to_thread(
        encode_mp4,
        clip.frames,
        clip.fps,
        path,
        fps=spec.fps,
        num_frames=spec.num_frames,
        metadata=tags,
        audio=clip.audio if spec.sound else None,
        sample_rate=clip.sample_rate,
    )
    upload, poster = await asyncio.to_thread(
        extra_media, media, gid, clip, spec, encoded.size_bytes, tags
    )
    sheet = ""
    if held and report is not None:
        png = await asyncio.to_thread(sheet_png, clip.frames, report)
        sheet, _ = await asyncio.to_thread(media.save_bytes, gid, png, "sheet.png")
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
    t0 = time.perf_counter()  # a no-op for the local folder; uploads them to S3
    await asyncio.to_thread(media.publish, gid, CLIP_KINDS)
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
    timings["store"] = time.perf_counter() - t0
    ctx["metrics"].observe_render(spec, timings, device=config.device)
    review = report.summary() if held and report is not None else ""
    if first and review:
        await _audit(ctx, "hold", gid, spec, f"output scan: {review}")
    await _announce_done(
        ctx, gid, relative, upload_path=upload, poster_path=poster, review=review, sheet_path=sheet
    )
    log.info("[%s] done in attempt %d (first=%s): %s", gid, attempt, first, timings)
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


async def publish_progress(redis: Any, gid: str, event: ProgressEvent) -> None:
    """Progress is best effort: a Redis blip must not throw away a render."""
    try:
        await publish_event(redis, gid, event)
    except Exception as exc:
        log.warning("[%s] progress event %s not published: %s", gid, event.kind, exc)


async def _render_in_thread(
    backend: Backend,
    job: RenderJob,
    redis: Any,
    liveness: Liveness,
    inputs: Sequence[Path] = (),
) -> tuple[RenderedClip, dict[str, float]]:
    """Denoise in a thread so the event loop keeps beating; cancel it cooperatively.

    If the task is cancelled (job timeout, abort), the thread is told to stop at its next
    step and we wait for it: the device stays ours until the render really ends.
    """
    loop = asyncio.get_running_loop()
    stop = threading.Event()
    marks = {"last_step": 0.0, "last_event": 0.0}
    gid = job.generation_id

    def on_step(step: int, total: int) -> None:
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
            event = ProgressEvent(kind="step", step=step, total=total)
            asyncio.run_coroutine_threadsafe(publish_progress(redis, gid, event), loop)

    started = time.perf_counter()
    thread_job = asyncio.ensure_future(asyncio.to_thread(job_render, backend, job, on_step, inputs))
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
    backend: Backend, job: RenderJob, on_step: Any, inputs: Sequence[Path] = ()
) -> RenderedClip:
    """The blocking render call, named so that profiles and stack dumps read well."""
    if job.spec.sound and not backend.capabilities.sound:  # the bot refuses it; others may not
        name = backend.capabilities.name
        raise ValueError(f"sound=True: the {name} backend makes no sound")
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
            audio=clip.audio if spec.sound else None,
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


async def _announce_done(
    ctx: dict[str, Any],
    gid: str,
    media_path: str,
    *,
    upload_path: str = "",
    poster_path: str = "",
    review: str = "",
    sheet_path: str = "",
) -> None:
    """Hand the clip to delivery; retried through a Redis outage, since the clip is made."""
    record = ResultRecord(
        generation_id=gid,
        status="done",
        media_path=media_path,
        upload_path=upload_path,
        poster_path=poster_path,
        review=review,
        sheet_path=sheet_path,
    )
    for attempt in range(ANNOUNCE_TRIES):
        try:
            await publish_result_once(ctx["redis"], record)
            break
        except (RedisError, OSError) as exc:
            if attempt == ANNOUNCE_TRIES - 1:
                raise
            log.warning("[%s] result not announced yet (%s); retrying", gid, exc)
            await asyncio.sleep(min(2**attempt, 10))
    await publish_progress(ctx["redis"], gid, ProgressEvent(kind="done", media_path=media_path))


async def _fail(ctx: dict[str, Any], gid: str, message: str, *, review: str = "") -> None:
    store: GalleryStore = ctx["store"]
    await asyncio.to_thread(store.mark_failed, gid, error=message)
    record = ResultRecord(generation_id=gid, status="failed", message=message, review=review)
    await publish_result_once(ctx["redis"], record)
    await publish_progress(ctx["redis"], gid, ProgressEvent(kind="failed", message=message))


async def _block(ctx: dict[str, Any], gid: str, report: ScanReport) -> None:
    """A clip over a block threshold: removed (never public, never posted), no file written,
    an audit row, the member told without the scores, the moderators told with them."""
    store: GalleryStore = ctx["store"]
    review = report.summary()
    log.warning("[%s] blocked by the output scan: %s", gid, review)
    await asyncio.to_thread(store.set_moderation, gid, Moderation.REMOVED)
    row = await asyncio.to_thread(store.get, gid)
    if row is not None:
        await _audit(
            ctx, "block", gid, RenderSpec.model_validate(row.spec), f"output scan: {review}"
        )
    await _fail(ctx, gid, BLOCKED_MESSAGE, review=review)


async def _audit(ctx: dict[str, Any], action: str, gid: str, spec: RenderSpec, reason: str) -> None:
    moderation: ModerationStore = ctx["moderation"]
    await asyncio.to_thread(
        moderation.record,
        action,
        moderator_id=SYSTEM,
        guild_id=spec.guild_id,
        target_member_id=spec.owner_id or None,
        target_generation_id=gid,
        reason=reason,
    )


async def scan_clip(ctx: dict[str, Any], payload: dict[str, Any]) -> dict[str, str]:
    """Scan a finished clip again (a member reported it): the decision, why, and a contact sheet
    when it is over a threshold. Changes nothing else: what to do is the moderators' call."""
    gid = str(payload.get("generation_id", ""))
    check: OutputCheck | None = ctx.get("output_check")
    if check is None or not check.enabled:
        return {"decision": "off"}
    row = await asyncio.to_thread(ctx["store"].get, gid) if _GID.fullmatch(gid) else None
    if row is None or not row.media_path:
        return {"decision": "missing"}
    media: LocalMediaStore = ctx["media"]
    path = await asyncio.to_thread(media.fetch, row.media_path)
    if path is None:
        return {"decision": "missing"}
    # the clip's own waivers count again: a report is not a way round its channel's choice
    skip = tuple(row.spec.get("scan_skip", ())) if isinstance(row.spec, dict) else ()
    report, frames = await asyncio.to_thread(check.scan_file, path, skip)
    sheet = ""
    if report.decision != "allow":
        png = await asyncio.to_thread(sheet_png, frames, report)
        sheet, _ = await asyncio.to_thread(media.save_bytes, gid, png, "sheet.png")
        await asyncio.to_thread(media.publish, gid, ("sheet.png",))
    log.info("[%s] rescanned: %s", gid, report.summary())
    return {"decision": report.decision, "review": report.summary(), "sheet_path": sheet}


_GID = GENERATION_ID  # .fullmatch: exactly a generation id


def worker_settings(config: WorkerConfig) -> dict[str, Any]:
    """Keyword arguments for `arq.worker.Worker`: JSON jobs, one clip at a time, tight polling."""
    from arq.connections import RedisSettings

    if not config.redis_url:
        raise ValueError("a worker needs REELBOT_REDIS_URL (or run it through `reelbot up`)")
    return {
        "functions": [
            # one try more than max_tries, so the last try can fail the clip cleanly itself
            func(count_outcomes(render_clip), name=RENDER_TASK, max_tries=config.max_tries + 1),
            func(scan_clip, name=SCAN_TASK, max_tries=2, timeout=300),
        ],
        "queue_name": config.queue_name,
        "redis_settings": RedisSettings.from_dsn(config.redis_url),
        "on_startup": startup,
        "on_shutdown": shutdown,
        "ctx": {"config": config},
        "max_jobs": 1,
        # arq's deadline sits past ours, so ours always fires first and decides retry or fail
        "job_timeout": config.job_timeout_s + 60,
        "poll_delay": config.poll_delay_s,
        "keep_result": 3600,
        "job_serializer": serialize_job,
        "job_deserializer": deserialize_job,
        "health_check_interval": 30,
    }
