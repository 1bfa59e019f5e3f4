"""The arq side of a worker: start-up (load the pipeline once), the tasks, shutdown.

`render_clip` decides what a render's end means (done, retried, failed, superseded, cancelled);
the render itself is `worker.render`, and telling everyone how it ended is `worker.announce`.
Only `startup` creates resources; they live in arq's `ctx` and are passed down from there.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import sys
import time
import uuid
from datetime import timedelta
from typing import Any

from arq import Retry
from arq.worker import func
from pydantic import ValidationError

from core.capabilities import announced_limits, capabilities_for, served_capabilities
from core.ids import GENERATION_ID
from core.logs import generation_context
from core.spec import (
    CANCELLED,
    RENDER_TASK,
    SCAN_TASK,
    RenderJob,
    deserialize_job,
    serialize_job,
)
from gallery.db import make_engine, migrate
from gallery.media import LocalMediaStore
from gallery.mediastore import make_media_store
from gallery.moderation import ModerationStore
from gallery.store import GalleryStore
from jobs.admission import Admission
from jobs.fleet import worker_queue
from jobs.keys import cancel_key
from jobs.liveness import Liveness
from jobs.metrics_endpoint import MetricsEndpoint
from worker.announce import announce_done, fail_clip
from worker.job_check import refused
from worker.media_budget import UnreadableMedia
from worker.metrics import WorkerMetrics, count_outcomes
from worker.model_sources import ModelLoadError
from worker.output_check import OutputCheck, sheet_png
from worker.readiness import load_announced
from worker.reconcile import reconcile_forever
from worker.render import (
    LeaseLost,
    MissingInput,
    MissingReference,
    OwnerCancelled,
    made_extras,
    make_clip,
)
from worker.settings import WorkerConfig
from worker.sound import SoundModel
from worker.speech import SpeechModel
from worker.styles import styles_for

log = logging.getLogger(__name__)

# The same job would fail the same way again: fail the clip at once instead of retrying.
# UnreadableMedia (a member's upload that can't be decoded, or is over its decoding budget) is
# a ValueError, and named here so that stays true.
# ModelLoadError: a model a clip needs (the region finder, loaded at the first edit with words)
# failed to load on this worker, and would again.
PERMANENT_ERRORS = (MissingInput, UnreadableMedia, ModelLoadError, ValueError, TypeError)


async def startup(ctx: dict[str, Any]) -> None:
    config: WorkerConfig = ctx["config"]
    ctx["metrics"] = WorkerMetrics()
    started = time.perf_counter()
    ctx["backend"], ctx["output_check"] = await load_announced(ctx["redis"], config)
    ctx["load_s"] = time.perf_counter() - started
    # -sound and Add sound: the text-to-audio model, loaded by the first clip that needs it
    ctx["sound"] = SoundModel.from_config(config, ctx["backend"])
    # /speak's typed lines: the text-to-speech model, loaded by the first line to voice
    ctx["speech"] = SpeechModel.from_config(config, ctx["backend"])
    if hasattr(ctx["backend"], "styles"):  # the styles file's LoRAs, loaded as jobs ask
        ctx["backend"].styles = styles_for(config, config.backend)
    engine = make_engine(config.resolved_database_url())
    await asyncio.to_thread(migrate, engine)
    ctx["store"] = GalleryStore(engine)
    ctx["moderation"] = ModerationStore(engine)
    ctx["media"] = make_media_store(config)
    worker_id = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    served = served_capabilities(config.backend, config.model)
    liveness = Liveness(
        ctx["redis"],
        worker_id,
        interval_s=config.heartbeat_s,
        lease_s=config.lease_s,
        queue=worker_queue(config.queue_name, family_of(config)),
        family=family_of(config),
        modes=served.all_modes,
        limits=announced_limits(served),  # the front ends size its requests with these
        # core.fleet.EXTRAS: a -sound or typed line the operator turned off is refused up front
        extras=worker_extras(ctx["sound"], ctx["speech"]),
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


def worker_extras(sound: SoundModel, speech: SpeechModel) -> tuple[str, ...]:
    """The extras (`core.fleet.EXTRAS`) this worker announces: its sound model and its
    text-to-speech unless their setting is off (one set but broken fails its clips instead)."""
    return tuple(
        extra for extra, model in (("sound", sound), ("voice", speech)) if model.source is not None
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
    with generation_context(job.generation_id):  # every line about this clip names it
        return await refused(ctx, job) or await _render_attempt(ctx, job)


async def _render_attempt(ctx: dict[str, Any], job: RenderJob) -> dict[str, Any]:
    """This try at the clip: done, failed, superseded or cancelled; or Retry raised."""
    config: WorkerConfig = ctx["config"]
    store: GalleryStore = ctx["store"]
    gid = job.generation_id
    attempt: int = ctx["job_try"]

    existing = await asyncio.to_thread(store.get, gid)
    if existing is not None and existing.status == "done":
        # A retry of a job that finished just before its worker died: announce, don't re-render.
        log.info("already done; re-announcing")
        await announce_done(ctx, gid, existing.media_path or "", **made_extras(ctx["media"], gid))
        return {"status": "done", "generation_id": gid}
    if attempt > config.max_tries:
        await fail_clip(
            ctx, gid, f"the worker stopped {attempt - 1} times while rendering this clip"
        )
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
            return await make_clip(ctx, job, attempt)
    except LeaseLost:
        log.warning("another worker took this clip over; leaving it to them")
        return {"status": "superseded", "generation_id": gid}
    except OwnerCancelled:
        await fail_clip(ctx, gid, CANCELLED)
        await ctx["redis"].delete(cancel_key(gid))
        return {"status": "cancelled", "generation_id": gid}
    except (Retry, asyncio.CancelledError):
        raise
    except Exception as exc:
        log.exception("attempt %d failed", attempt)
        row = await asyncio.to_thread(store.get, gid)
        if row is not None and row.status == "done":  # the first final status wins
            await announce_done(ctx, gid, row.media_path or "", **made_extras(ctx["media"], gid))
            return {"status": "done", "generation_id": gid}
        if isinstance(exc, PERMANENT_ERRORS) or out_of_memory(exc) or attempt >= config.max_tries:
            await fail_clip(ctx, gid, failure_reason(exc, config, attempts=attempt))
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
    if isinstance(exc, MissingReference):
        return (
            "a character it shows (-ref) was deleted or saved over after you asked, and a "
            "deleted character's picture is never used; save it again with /character save, "
            "then ask again"
        )
    if isinstance(exc, MissingInput):
        return "its input image is missing; please send it again"
    if isinstance(exc, ModelLoadError):  # its message names settings and paths: the log's
        told = (
            "a model this clip needs didn't load on this server (its admin can see why in the log)"
        )
        return f"{told}; {exc.member_hint}" if exc.member_hint else told
    if isinstance(exc, TimeoutError):
        return f"it took longer than this server allows ({config.job_timeout_s} s)"
    if isinstance(exc, UnreadableMedia):  # a member's upload: its message is for them
        return str(exc)
    if isinstance(exc, ValueError | TypeError):
        return f"the model can't render these settings ({str(exc)[:200]})"
    if out_of_memory(exc):
        return "the GPU ran out of memory on this clip; a shorter one (a lower -len) needs less"
    if attempts > 1:
        return f"rendering failed {attempts} times in a row ({type(exc).__name__}), so I stopped"
    return f"rendering failed ({type(exc).__name__})"


async def scan_clip(ctx: dict[str, Any], payload: dict[str, Any]) -> dict[str, str]:
    """Scan a finished clip again (a member reported it): the decision, why, and a contact sheet
    when it is over a threshold. Changes nothing else: what to do is the moderators' call."""
    gid = str(payload.get("generation_id", ""))
    valid = _GID.fullmatch(gid) is not None
    with generation_context(gid if valid else None):
        check: OutputCheck | None = ctx.get("output_check")
        if check is None or not check.enabled:
            return {"decision": "off"}
        row = await asyncio.to_thread(ctx["store"].get, gid) if valid else None
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
        log.info("rescanned: %s", report.summary())
        return {"decision": report.decision, "review": report.summary(), "sheet_path": sheet}


_GID = GENERATION_ID  # .fullmatch: exactly a generation id


def family_of(config: WorkerConfig) -> str:
    """The model family this worker renders, as specs name it (`RenderSpec.backend`): its
    capabilities' name, also for an operator's backend loaded by module path."""
    return capabilities_for(config.backend).name


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
        "queue_name": worker_queue(config.queue_name, family_of(config)),
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
