"""The REST API's bodies as pydantic models: what a client sends and what it gets back.

The OpenAPI document's schemas are generated from these (`api.openapi`). A request's settings
are typed loosely on purpose (a number, a text): their bounds and words come from the same
reader as Discord's slash options and inline flags (`core.options`), so `"motion": 9` is
refused exactly as `-motion 9` is. Unknown fields are refused by name, never dropped.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from api.clipstate import ClipStatus
from core.edits import EditKind
from intake.followups import FollowUp

# JSON field -> the slash option of the same setting (`core.options.OPTION_FLAGS`).
SETTING_FIELDS = (
    "motion",
    "camera",
    "negative",
    "aspect_ratio",
    "seed",
    "guidance",
    "fps",
    "length",
    "style",
    "sound",
    "quality",
)


class ClipRequest(BaseModel):
    """Ask for a clip: a prompt with inline flags (`a fox -motion 3 -ar 9:16`), the same
    settings as fields, or both (they must agree). With `from` and `action`, a follow-up of an
    existing clip: reroll, vary, extend and upscale repeat its settings; remix takes a new
    `prompt`; modify, expand, add and swap edit it (✏️ Modify, ↔ Expand, /add, /swap). With
    `speak`, a picture speaks (/speak). As multipart/form-data the same fields are form fields,
    with an `image` (to animate, to add or swap in, or to speak) or a `video` (to restyle)
    file, and a `voice` file for `speak`."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, title="ClipRequest")

    prompt: str | None = Field(
        default=None,
        max_length=4000,
        description="What to see, with any /create flags; needed unless `from` is given "
        "(for remix it is the new text) or an image is sent",
        examples=["a fox in the snow -motion 3 -ar 9:16"],
    )
    motion: int | None = Field(default=None, description="How much moves, 0 (still) to 4")
    camera: str | None = Field(
        default=None, description="Camera move, as -camera takes it (pan left, zoom in, …)"
    )
    negative: str | None = Field(
        default=None, max_length=1500, description="What to keep out of the clip"
    )
    aspect_ratio: str | None = Field(default=None, description="Width:height, like 16:9")
    seed: int | None = Field(default=None, description="Same seed + same settings = same clip")
    guidance: float | None = Field(
        default=None, description="How closely to follow the prompt, 8 to 24"
    )
    fps: int | None = Field(default=None, description="Frames per second, 8 to 24")
    length: float | None = Field(default=None, description="Seconds")
    style: str | None = Field(default=None, description="A style preset's name")
    sound: bool | None = Field(default=None, description="With sound, where the model has it")
    quality: Literal["fast", "hq"] | None = Field(
        default=None, description="fast: fewer steps, sooner; hq: the full schedule"
    )
    hide: bool | None = Field(
        default=None,
        description="Keep it out of the public gallery (unset: the member's /settings, and "
        "private for a token with no guild)",
    )
    webhook_url: str | None = Field(
        default=None,
        max_length=2000,
        description="https URL that gets this clip's events, signed with the token's "
        "webhook secret",
    )
    from_: str | None = Field(
        default=None,
        alias="from",
        pattern="^[0-9a-f]{32}$",
        description="The id of a clip to make a follow-up of",
    )
    action: FollowUp | EditKind | None = Field(
        default=None,
        description="With `from`: what to make of that clip. reroll, vary, extend, upscale, "
        "remix; or an edit (a new clip of yours from its finished video, made by the editing "
        "family): modify (`prompt`: what to change, `where` optional), expand (`expand_to` or "
        "`zoom_out`; `prompt` optional, for the new borders), add (an `image` file of what to "
        "put in; `prompt` and `where` optional), swap (`where`: what to replace, and `with` "
        "words or an `image` file)",
    )
    where: str | None = Field(
        default=None,
        max_length=1000,
        description="modify, add, swap: where in the clip — a thing (the red car), left, "
        "right, top, bottom, center, or x,y,w,h in percent",
        examples=["the sky"],
    )
    expand_to: str | None = Field(
        default=None, description="expand: the new shape, one of 16:9, 9:16, 1:1, 4:5, 21:9"
    )
    zoom_out: float | None = Field(
        default=None, description="expand: a larger canvas of the same shape, 1.5 or 2"
    )
    with_: str | None = Field(
        default=None,
        alias="with",
        max_length=2000,
        description="swap: what replaces the thing named by `where` (or send an `image`)",
    )
    ref: str | None = Field(
        default=None,
        max_length=200,
        description="Saved characters to show, as /create's -ref takes them: names split by "
        "commas, the member's own first, then the server's (also as `-ref NAME` in the prompt)",
        examples=["Mira"],
    )
    speak: bool | None = Field(
        default=None,
        description="/speak (multipart): the `image` speaks the `voice` file (WAV, MP3, "
        "OGG/Opus or M4A, at most 20 s and 10 MB) or the `say` line in a generated voice; "
        "`prompt`, `seed`, `style`, `quality` and `hide` may go with it",
        examples=[True],
    )
    say: str | None = Field(
        default=None,
        max_length=2000,
        description="With `speak`: the line the picture says, instead of a `voice` file",
    )
    story: bool | None = Field(
        default=None,
        description="The prompt is a story, as /story takes it: 2 to 8 shots split by `|`, each "
        "continuing from the last and able to carry its own -camera, -motion, -len and -neg; one "
        "clip of them all that counts one clip per shot against the daily cap",
        examples=[True],
    )


class ClipLinks(BaseModel):
    self: str = Field(description="GET: this clip")
    events: str = Field(description="GET: its progress as Server-Sent Events")
    cancel: str = Field(description="POST: cancel it (its owner's tokens)")
    gallery: str = Field(description="Its page in the gallery (once public)")


class ClipAccepted(BaseModel):
    """A clip taken: queued under the member's caps, in the fair queue."""

    id: str
    status: ClipStatus
    queue_position: int | None = Field(description="1 = next to render")
    eta_s: float | None = Field(description="Seconds until ready; null before any clip is timed")
    notes: list[str] = Field(
        default_factory=list, description="How an upload was framed or cut, for people"
    )
    links: ClipLinks


class ClipSpec(BaseModel):
    """The settings the clip is made with, as read."""

    model_config = ConfigDict(extra="allow")

    prompt: str
    negative_prompt: str = ""
    aspect_ratio: str
    width: int
    height: int
    num_frames: int
    fps: int
    steps: int | None = None
    guidance_scale: float | None = None
    seed: int
    motion: int
    camera: str | None = None
    mode: str = "t2v"
    hidden: bool = False
    sound: bool = False
    quality: str = "hq"
    backend: str = ""
    parent_id: str | None = None
    style: str | None = None


class ClipProgress(BaseModel):
    step: int
    total: int
    fraction: float


class ClipResult(BaseModel):
    """The finished clip's files: a public clip's served by the gallery to anyone; a hidden
    clip's by this API (`/v1/clips/{id}/media`, `/preview`, `/poster`) to its owner's tokens
    only, so send the token with them."""

    video_url: str = Field(description="The clip (MP4)")
    poster_url: str = Field(description="A still of it (JPEG)")
    preview_url: str = Field(description="A short muted copy (MP4)")
    page_url: str | None = Field(description="Its gallery page; null while it is not public")
    size_bytes: int | None
    public: bool = Field(description="Whether the gallery shows it to anyone")


class StoryShot(BaseModel):
    """One shot of a story: its words, where it is in the clip and its own flags (null: the
    story's)."""

    index: int = Field(description="1 = the first shot")
    prompt: str
    start_s: float = Field(description="Where the shot starts in the story's clip, in seconds")
    end_s: float
    camera: str | None = None
    motion: int | None = None
    negative: str | None = None


class Lineage(BaseModel):
    parent_id: str | None
    children: list[str] = Field(description="Clips made from this one that you may see")


class Clip(BaseModel):
    """A clip as the API shows it, and as webhooks carry it under `data`."""

    id: str
    status: ClipStatus
    prompt: str
    seed: int
    spec: ClipSpec
    command: str = Field(description="The /create line that makes this clip again")
    owner_id: str
    guild_id: str | None
    created_at: str | None
    started_at: str | None
    finished_at: str | None
    queue_position: int | None
    eta_s: float | None
    progress: ClipProgress | None
    error: str | None = Field(description="Why it failed or was cancelled, for people")
    result: ClipResult | None
    lineage: Lineage
    batch_id: str | None
    shots: list[StoryShot] | None = Field(
        default=None, description="A story's shots in order; null for any other clip"
    )
    links: ClipLinks


class ClipPage(BaseModel):
    clips: list[Clip]
    next: str | None = Field(description="The cursor of the next page; null on the last")


class Cancelled(BaseModel):
    """What a cancel did: `cancelled` (taken out of the queue), or `stopping` (a worker has
    it; it stops at its next step and the clip turns `cancelled`)."""

    outcome: Literal["cancelled", "stopping"]
    detail: str
    clip: Clip


class Health(BaseModel):
    ok: bool
