"""What a clip looks like from the REST API: its status in the API's words and its JSON.

`clip_resource` is what `GET /v1/clips/{id}` answers and what a webhook carries under "data",
so a client reads one shape whichever way it learns of a clip.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Literal

from core.commandline import stored_command_line
from core.spec import CANCELLED, DEFAULT_QUALITY
from core.story import STORY, shot_lengths, shots
from gallery.apitables import ApiClip
from gallery.models import Generation, GenerationStatus, Moderation
from gallery.webkit import clip_url, media_url

ClipStatus = Literal["queued", "held", "running", "succeeded", "failed", "cancelled"]
CLIP_STATUSES: tuple[ClipStatus, ...] = (
    "queued",
    "held",
    "running",
    "succeeded",
    "failed",
    "cancelled",
)
FINAL: frozenset[ClipStatus] = frozenset({"succeeded", "failed", "cancelled"})
# The spec's fields a client may see: no storage paths, Discord channels or delivery caps.
SPEC_SHOWN = (
    "prompt",
    "negative_prompt",
    "aspect_ratio",
    "width",
    "height",
    "num_frames",
    "fps",
    "steps",
    "guidance_scale",
    "seed",
    "motion",
    "camera",
    "mode",
    "hidden",
    "sound",
    "quality",
    "backend",
    "parent_id",
)


# Why a clip that rendered reads `failed`: a moderator removed it (its files are no one's now).
REMOVED = "A moderator removed this clip."


def clip_status(row: Generation) -> ClipStatus:
    """The row's state as the API names it, one answer for GET, the events stream and webhooks.

    queued: waiting for a worker; running: a worker renders it; held: a moderator has it (the
    output scan held the finished clip, or reports or a moderator hid it: it may come back);
    succeeded: done, and the moderators let it be; cancelled: its owner cancelled it; failed:
    anything else that ended it, a moderator removing it included (`REMOVED`), so a removed
    clip is never announced as succeeded, nor its files linked."""
    if row.status == GenerationStatus.FAILED:
        return "cancelled" if row.error == CANCELLED else "failed"
    if row.moderation == Moderation.REMOVED:
        return "failed"
    if row.moderation in (Moderation.HELD, Moderation.HIDDEN):
        return "held"
    if row.status == GenerationStatus.DONE:
        return "succeeded"
    if row.status == GenerationStatus.RENDERING:
        return "running"
    return "queued"


def clip_error(row: Generation, status: ClipStatus) -> str | None:
    """Why it failed or was cancelled, for people; None for any other status."""
    if status not in ("failed", "cancelled"):
        return None
    if row.status != GenerationStatus.FAILED and row.moderation == Moderation.REMOVED:
        return REMOVED
    return row.error


def is_visible_to_all(row: Generation) -> bool:
    """Whether any token may read it: not hidden, not deleted, not kept by moderators (an
    unfinished clip of a public request counts as visible: only its owner's asks can see it
    before it is done anyway, through its id)."""
    return not row.hidden and row.deleted_at is None and row.moderation == Moderation.OK


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def shown_spec(spec: Mapping[str, Any]) -> dict[str, Any]:
    """The stored spec without what only the worker and Discord need; the style by name."""
    shown = {key: spec[key] for key in SPEC_SHOWN if key in spec}
    style = spec.get("style")
    shown["style"] = style.get("name") if isinstance(style, Mapping) else None
    shown.setdefault("quality", DEFAULT_QUALITY)  # a spec says it only when not the default
    return shown


def story_shots(spec: Mapping[str, Any]) -> list[dict[str, Any]] | None:
    """A story's shots in order (`api.schemas.StoryShot`): words, place in the clip, own flags;
    None for any other clip, or a stored story that no longer reads."""
    if spec.get("mode") != STORY:
        return None
    try:
        texts = shots(str(spec["prompt"]))
        fps = int(spec["fps"])
        own = list(spec.get("shot_flags") or [{}] * len(texts))
        frames = [int(s["num_frames"]) if s.get("num_frames") else None for s in own]
        lengths = shot_lengths(int(spec["num_frames"]), len(texts), frames)
    except (KeyError, TypeError, ValueError, AttributeError):
        return None
    out, start = [], 0
    for k, (text, length, shot) in enumerate(zip(texts, lengths, own, strict=True)):
        out.append(
            {
                "index": k + 1,
                "prompt": text,
                "start_s": round(start / fps, 3),
                "end_s": round((start + length) / fps, 3),
                "camera": shot.get("camera"),
                "motion": shot.get("motion"),
                "negative": shot.get("negative_prompt"),
            }
        )
        start += length
    return out


def links(generation_id: str, *, api_url: str, public_url: str) -> dict[str, str]:
    base = f"{api_url.rstrip('/')}/v1/clips/{generation_id}"
    return {
        "self": base,
        "events": f"{base}/events",
        "cancel": f"{base}/cancel",
        "gallery": clip_url(public_url, generation_id),
    }


def result_links(row: Generation, *, public_url: str, api_url: str) -> dict[str, Any]:
    """Where a finished clip's files are: a public clip's in the gallery (no token needed,
    cacheable); a clip its owner hid is served by the gallery to no one, so its links are this
    API's owner-only routes (`api.media`), fetched with the owner's token."""
    if row.is_public:
        video = media_url(public_url, row.id)
        poster = media_url(public_url, row.id, "jpg")
        preview = media_url(public_url, row.id, "preview.mp4")
        page: str | None = clip_url(public_url, row.id)
    else:
        base = f"{api_url.rstrip('/')}/v1/clips/{row.id}"
        video, poster, preview, page = f"{base}/media", f"{base}/poster", f"{base}/preview", None
    return {
        "video_url": video,
        "poster_url": poster,
        "preview_url": preview,
        "page_url": page,
        "size_bytes": row.size_bytes,
        "public": row.is_public,
    }


def clip_resource(
    row: Generation,
    api_clip: ApiClip | None,
    public_url: str,
    *,
    api_url: str = "",
    progress: Mapping[str, int] | None = None,
    queue_position: int | None = None,
    eta_s: float | None = None,
    children: Sequence[str] = (),
) -> dict[str, Any]:
    """The clip as JSON. `api_url` "" makes the API's own links relative (`/v1/clips/…`);
    `progress` is {"step", "total"} from the clip's events while it runs; `children` are the
    ids of clips made from it that the reader may see."""
    status = clip_status(row)
    spec = shown_spec(row.spec or {})
    result = None
    if status == "succeeded" and row.media_path:
        result = result_links(row, public_url=public_url, api_url=api_url)
    shown_progress = None
    if status == "running" and progress:
        step, total = int(progress.get("step", 0)), int(progress.get("total", 0))
        shown_progress = {
            "step": step,
            "total": total,
            "fraction": round(step / total, 3) if total else 0.0,
        }
    return {
        "id": row.id,
        "status": status,
        "prompt": row.prompt,
        "seed": row.seed,
        "spec": spec,
        "command": stored_command_line(dict(row.spec or {})) if row.spec else "",
        "owner_id": row.owner_id,
        "guild_id": str(row.guild_id) if row.guild_id is not None else None,
        "created_at": _iso(row.created_at),
        "started_at": _iso(row.started_at),
        "finished_at": _iso(row.finished_at),
        "queue_position": queue_position if status == "queued" else None,
        "eta_s": round(eta_s, 1) if eta_s is not None and status in ("queued", "running") else None,
        "progress": shown_progress,
        "error": clip_error(row, status),
        "result": result,
        "lineage": {"parent_id": row.parent_id, "children": list(children)},
        "batch_id": api_clip.batch_id if api_clip is not None else None,
        "shots": story_shots(row.spec or {}),
        "links": links(row.id, api_url=api_url, public_url=public_url),
    }
