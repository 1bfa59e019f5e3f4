"""The job contract between the bot and the workers.

Everything that crosses Redis is defined here, as frozen pydantic models that travel as JSON
(never pickle: anyone who can write to Redis could otherwise run code on a worker); no torch,
redis or discord, so the front ends build and validate jobs without them."""

from __future__ import annotations

import json
from typing import Annotated, Any, Final, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    StringConstraints,
    model_serializer,
    model_validator,
)

from core.edits import EditSpec
from core.frames import segments
from core.ids import GENERATION_ID_PATTERN
from core.speak import MAX_SPEAK_CHARS, SPEAK_CLIP, SPEAKING, VOICE_KIND
from core.story import MAX_SHOTS, shot_lengths, shots

SPEC_VERSION: Final = 1
MAX_PROMPT_CHARS = 1500
MAX_ILLUSION_CHARS = 20  # /encrypt_text's message, as Pika's bot
IllusionFont = Literal["sans", "serif", "mono"]  # DejaVu Sans, Serif, Sans Mono, all bold
MAX_SOUND_CHARS = 300  # the words a sound track is made from
MAX_SEED = 2**32 - 1
MAX_REFERENCES = 3  # `-ref`: characters in one clip

# Pika's guidance scale, which every backend maps onto its own useful range.
MIN_GUIDANCE = 8.0
MAX_GUIDANCE = 24.0
DEFAULT_GUIDANCE = 12.0
MIN_FPS = 8
MAX_FPS = 24
DEFAULT_FPS = 24
MIN_MOTION = 0
MAX_MOTION = 4
DEFAULT_MOTION = 1
# Widest and tallest accepted aspect ratio (W/H).
MIN_ASPECT = 0.4
MAX_ASPECT = 2.5

Camera = Literal[
    "zoom in",
    "zoom out",
    "pan left",
    "pan right",
    "pan up",
    "pan down",
    "pan up left",
    "pan up right",
    "pan down left",
    "pan down right",
    "rotate clockwise",
    "rotate counterclockwise",
    "static",
]
# "sound": 🔊 Add sound, the parent's finished video (its one input) with a new sound track.
# "illusion": /encrypt_text, /encrypt_image: a message (or its one input picture) hidden in it.
# "frames": /frames (Pikaframes): 2-5 input pictures, each at its point in time (core.frames).
# "edit": ✏️ Modify, ↔ Expand, /add, /swap: the parent's video (and a picture) edited (core.edits).
# "story": /story: 2-8 shots split by `|`, each from the last one's last frame (core.story).
# "speak": /speak: a picture speaks a voice (its second input) or a typed line (core.speak).
# "speak_clip": /speak clip:…: the parent's finished video (input 0) re-rendered to speak.
Mode = Literal[
    "t2v",
    "i2v",
    "v2v",
    "extend",
    "upscale",
    "sound",
    "illusion",
    "frames",
    "edit",
    "story",
    "speak",
    "speak_clip",
]
# How a clip is rendered: `fast` with the family's fast recipe (distilled weights or LoRA, fewer
# steps, a cache hook, FP8 where the GPU has it), `hq` on the full schedule. Named "quality", not
# "tier": the scheduler's fast/relax *queue* tiers (core.fairshare.Tier) are another axis.
Quality = Literal["fast", "hq"]
DEFAULT_QUALITY: Final = "hq"  # what every clip made before `-fast` existed was rendered as

# The prefix of every Redis key and the default arq queue: fair-share routing names the queues.
# Every other key name is in jobs.keys (the Redis side), which lists these two as well.
KEY_PREFIX = "reelbot:"
DEFAULT_QUEUE = f"{KEY_PREFIX}queue:fast"
RENDER_TASK = "render_clip"
SCAN_TASK = "scan_clip"  # scan a clip already made again (a member reported it)


GenerationId = Annotated[str, StringConstraints(pattern=rf"^{GENERATION_ID_PATTERN}$")]
PromptText = Annotated[str, StringConstraints(max_length=MAX_PROMPT_CHARS)]


# What a style asks of the worker besides its words: "" nothing; "style": the LoRA of the styles
# file's [styles.NAME] for the worker's family; "effect": [effects.NAME] (image-to-video only),
# with its LoRA where the family has one. The worker reads the LoRA from its own styles file by
# the style's name: a job never names a file (`core.stylefile`, `worker.styles`).
StyleAdapter = Literal["", "style", "effect"]


class StylePreset(BaseModel):
    """A named look: text appended to the prompt and to the negative prompt, and perhaps an
    adapter the worker loads for it (`adapter`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,31}$")]
    prompt_suffix: Annotated[str, StringConstraints(max_length=300)] = ""
    negative: Annotated[str, StringConstraints(max_length=300)] = ""
    adapter: StyleAdapter = ""

    @model_serializer(mode="wrap")
    def _no_adapter_unsaid(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """A words-only style is written as before adapters existed, so stored specs and jobs
        of such clips stay byte for byte what older workers and rows read and wrote."""
        data: dict[str, Any] = handler(self)
        if not data.get("adapter"):
            data.pop("adapter", None)
        return data


class Shot(BaseModel):
    """One shot's own flags in a story, typed inside the shot (`a knight rides out -camera
    pan_left | …`); None: the story's own setting. `num_frames` is the shot's `-len`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    camera: Camera | None = None
    motion: Annotated[int, Field(ge=MIN_MOTION, le=MAX_MOTION)] | None = None
    num_frames: Annotated[int, Field(ge=1, le=24 * 60)] | None = None
    negative_prompt: PromptText | None = None

    @model_serializer(mode="wrap")
    def _unset_unsaid(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        return {key: value for key, value in data.items() if value is not None}


class RenderSpec(BaseModel):
    """What to render and for whom, validated once at the edge; the worker trusts nothing else.

    `width`, `height`, `num_frames` and `fps` describe the delivered MP4; the backend renders at
    its native frame rate and the encoder resamples. `guidance_scale` stays on Pika's 8-24 scale
    so a clip's settings read the same whatever model rendered it.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    version: Literal[1] = SPEC_VERSION
    prompt: Annotated[PromptText, StringConstraints(min_length=1)]
    negative_prompt: PromptText = ""
    style: StylePreset | None = None
    aspect_ratio: Annotated[str, StringConstraints(pattern=r"^[1-9][0-9]{0,4}:[1-9][0-9]{0,4}$")]
    width: Annotated[int, Field(ge=64, le=4096, multiple_of=8)]
    height: Annotated[int, Field(ge=64, le=4096, multiple_of=8)]
    num_frames: Annotated[int, Field(ge=1, le=24 * 60)]
    fps: Annotated[int, Field(ge=MIN_FPS, le=MAX_FPS)] = DEFAULT_FPS
    steps: Annotated[int, Field(ge=1, le=200)]
    guidance_scale: Annotated[float, Field(ge=MIN_GUIDANCE, le=MAX_GUIDANCE)] = DEFAULT_GUIDANCE
    seed: Annotated[int, Field(ge=0, le=MAX_SEED)]
    motion: Annotated[int, Field(ge=MIN_MOTION, le=MAX_MOTION)] = DEFAULT_MOTION
    camera: Camera | None = None
    mode: Mode = "t2v"
    input_media: tuple[str, ...] = ()
    hidden: bool = False
    sound: bool = False
    # What the sound is made from (`-sound "rain on a tin roof"`, the Add sound form); empty:
    # the prompt. Unsaid when empty, so older jobs and stored specs read and write as before.
    sound_prompt: Annotated[str, StringConstraints(max_length=MAX_SOUND_CHARS)] = ""
    # `-loop`: the clip's last frame meets its first. `end_frame`: it ends on its last input
    # picture (/animate's end image, after the start picture in `input_media`). Both unsaid
    # when off, so older jobs and stored specs read and write byte for byte as before.
    loop: bool = False
    end_frame: bool = False
    # Mode "illusion": the message hidden in the clip (none: its one input picture is), and how
    # strongly the ControlNet holds it (controlnet_conditioning_scale). Unsaid when unused.
    illusion_text: Annotated[str, StringConstraints(max_length=MAX_ILLUSION_CHARS)] = ""
    illusion_strength: Annotated[float, Field(ge=0.5, le=2.0)] = 1.0
    illusion_font: IllusionFont = "sans"
    edit: EditSpec | None = None  # mode "edit" only; unsaid otherwise
    # `-ref`: saved characters' (or attached) pictures the clip must show, as the family's
    # reference images (WanVACEPipeline's reference_images). Unsaid when empty.
    reference_media: Annotated[tuple[str, ...], Field(max_length=MAX_REFERENCES)] = ()
    quality: Quality = DEFAULT_QUALITY
    backend: Annotated[str, StringConstraints(pattern=r"^[a-z0-9_-]{1,32}$")] = "tiny"
    parent_id: GenerationId | None = None
    retake: Annotated[int, Field(ge=0, lt=MAX_SHOTS)] | None = None  # 🎬: the parent story's shot
    # Mode "story": each shot's own flags, in shot order (core.story.shot_lengths reads the
    # lengths). Unsaid when empty, so older jobs and stored specs read and write as before.
    shot_flags: Annotated[tuple[Shot, ...], Field(max_length=MAX_SHOTS)] = ()
    # Mode "speak" without an uploaded voice: the line the worker's text-to-speech voices.
    # Unsaid when empty, so older jobs and stored specs read and write as before.
    speak_text: Annotated[str, StringConstraints(max_length=MAX_SPEAK_CHARS)] = ""
    # Where the clip is posted caps its size (Discord: the interaction's attachment_size_limit);
    # the worker then also writes a copy that fits. None: no cap (the terminal, the gallery).
    upload_limit: Annotated[int, Field(ge=1)] | None = None
    owner_id: Annotated[str, StringConstraints(max_length=64)] = ""
    owner_name: Annotated[str, StringConstraints(max_length=100)] = ""
    guild_id: int | None = None
    channel_id: int | None = None
    # Output-scan categories whose hold this clip's channel waives (an NSFW channel, as the
    # operator configured it); never a category about minors, never a block (worker.scan).
    scan_skip: tuple[Annotated[str, StringConstraints(pattern=r"^[a-z_]{1,32}$")], ...] = ()

    @model_serializer(mode="wrap")
    def _default_quality_unsaid(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """A full-schedule spec is written as before `quality` existed, so a job and a stored
        spec of an hq clip stay byte for byte what older workers and rows read and wrote;
        unless `quality` was given (a server whose default is fast says it: `core.flags`)."""
        data: dict[str, Any] = handler(self)
        if data.get("quality") == DEFAULT_QUALITY and "quality" not in self.model_fields_set:
            del data["quality"]
        if not data.get("sound_prompt"):
            data.pop("sound_prompt", None)
        for flag in ("loop", "end_frame"):
            if data.get(flag) is False:
                del data[flag]
        if self.mode != "illusion":
            data.pop("illusion_text", None)
            data.pop("illusion_strength", None)
        if data.get("illusion_font") == "sans":  # the default, and unsaid before fonts
            del data["illusion_font"]
        if data.get("edit") is None:
            data.pop("edit", None)
        if not data.get("reference_media"):
            data.pop("reference_media", None)
        if data.get("retake") is None:
            data.pop("retake", None)
        if not data.get("shot_flags"):
            data.pop("shot_flags", None)
        if not data.get("speak_text"):
            data.pop("speak_text", None)
        return data

    @model_validator(mode="after")
    def _illusion_hides_one_thing(self) -> RenderSpec:
        """An illusion hides its message or its one picture; other modes hide nothing."""
        if self.mode != "illusion":
            if self.illusion_text or self.illusion_strength != 1.0 or self.illusion_font != "sans":
                raise ValueError("illusion_text, _strength and _font need mode 'illusion'")
        elif len(self.input_media) != (0 if self.illusion_text.strip() else 1):
            raise ValueError("mode 'illusion' hides either illusion_text or one input picture")
        return self

    @model_validator(mode="after")
    def _ends_once(self) -> RenderSpec:
        """A clip ends on one thing: its own first frame (`loop`) or a picture (`end_frame`,
        the last of its input pictures, after the one it starts from)."""
        if self.loop and self.end_frame:
            raise ValueError("a clip can loop or end on a picture, not both")
        if self.end_frame and (self.mode != "i2v" or len(self.input_media) != 2):
            raise ValueError("end_frame needs mode i2v and two input pictures (start, end)")
        if self.loop and self.mode not in ("t2v", "i2v"):
            raise ValueError(f"loop can't be used with mode {self.mode}")
        return self

    @model_validator(mode="after")
    def _keyframes_fit(self) -> RenderSpec:
        """Mode "frames": 2-5 pictures and a prompt segment per transition (or one for all)."""
        if self.mode == "frames":
            segments(self.prompt, len(self.input_media))  # ValueError says what is allowed
            if self.loop or self.end_frame:
                raise ValueError("mode 'frames' ends on its last picture: no loop or end_frame")
        return self

    @model_validator(mode="after")
    def _story_told(self) -> RenderSpec:
        """Mode "story": 2-8 shots (of equal length but for their own `-len`), from the prompt
        or one picture."""
        if self.shot_flags and self.mode != "story":
            raise ValueError("shot_flags needs mode 'story'")
        if self.mode == "story":
            own = [shot.num_frames for shot in self.shot_flags]
            shot_lengths(self.num_frames, len(shots(self.prompt)), own)  # ValueError says what
            if len(self.input_media) > 1:
                raise ValueError("mode 'story' starts from at most one input picture")
        if self.retake is not None and (
            self.mode != "story" or self.parent_id is None or self.retake >= len(shots(self.prompt))
        ):
            raise ValueError("retake names a shot of the parent story (mode 'story', parent_id)")
        return self

    @model_validator(mode="after")
    def _edits_a_clip(self) -> RenderSpec:
        """Mode "edit": an EditSpec, the parent's video and at most one picture (add, swap)."""
        if (self.mode == "edit") != (self.edit is not None):
            raise ValueError("mode 'edit' and an edit go together")
        if self.edit is not None:
            pictures = {"add": (1,), "swap": (0, 1)}.get(self.edit.kind, (0,))
            if len(self.input_media) - 1 not in pictures:
                raise ValueError(f"edit {self.edit.kind} takes the clip and {pictures} pictures")
        return self

    @model_validator(mode="after")
    def _speaks_one_voice(self) -> RenderSpec:
        """Mode "speak": the picture and either its stored voice or a typed line, not both
        (a request not yet given its picture, screened before the download, has none)."""
        if self.mode not in SPEAKING:
            if self.speak_text:
                raise ValueError("speak_text needs mode 'speak'")
            return self
        if self.mode == SPEAK_CLIP and (
            not self.parent_id or not self.input_media or not self.input_media[0].endswith(".mp4")
        ):
            raise ValueError("mode 'speak_clip' takes its parent's video (input_media[0], .mp4)")
        voiced = len(self.input_media) == 2 and self.input_media[1].endswith(VOICE_KIND)
        typed = bool(self.speak_text.strip())
        if voiced == typed or (typed and len(self.input_media) > 1):
            raise ValueError(
                "mode 'speak' takes a picture and either a voice (input_media[1], "
                f"{VOICE_KIND}) or speak_text, not both"
            )
        if self.loop or self.end_frame:
            raise ValueError("mode 'speak' can't loop or end on a picture")
        return self

    @model_validator(mode="after")
    def _sound_asked(self) -> RenderSpec:
        """Sound words, and Add sound, are asks for sound."""
        if (self.sound_prompt or self.mode == "sound") and not self.sound:
            raise ValueError("sound_prompt and mode 'sound' need sound=True")
        return self

    @model_validator(mode="after")
    def _no_waiver_for_minors(self) -> RenderSpec:
        if any("minor" in category for category in self.scan_skip):
            raise ValueError("no channel can waive the output scan for minors")
        return self

    @model_validator(mode="after")
    def _aspect_in_bounds(self) -> RenderSpec:
        w, h = (int(part) for part in self.aspect_ratio.split(":"))
        if not MIN_ASPECT <= w / h <= MAX_ASPECT:
            raise ValueError(
                f"aspect_ratio {self.aspect_ratio} is outside {MIN_ASPECT}-{MAX_ASPECT}"
            )
        return self

    @property
    def duration_s(self) -> float:
        return self.num_frames / self.fps

    def full_prompt(self) -> str:
        """The prompt the model sees: the member's text plus the style's suffix."""
        if self.style and self.style.prompt_suffix:
            return f"{self.prompt}, {self.style.prompt_suffix}"
        return self.prompt

    def full_negative_prompt(self) -> str:
        parts = [self.negative_prompt, self.style.negative if self.style else ""]
        return ", ".join(p for p in parts if p)


class RenderJob(BaseModel):
    """One queued render: the generation id (also the arq job id) and its spec."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    generation_id: GenerationId
    spec: RenderSpec


# The error a clip its owner cancelled is failed with (row and "failed" event): every front
# end and the worker write these words, and the REST API reads them back as "cancelled".
CANCELLED = "cancelled by owner"


class ProgressEvent(BaseModel):
    """One entry of a generation's event stream; the bot and the CLI render it for people."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["queued", "started", "step", "encoding", "done", "failed"]
    step: int = 0
    total: int = 0
    attempt: int = 1
    worker: str = ""
    media_path: str = ""
    message: str = ""
    at: float = 0.0


class ResultRecord(BaseModel):
    """What the worker appends to the results stream for the delivery consumer, once per clip."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    generation_id: GenerationId
    status: Literal["done", "failed"]
    media_path: str = ""
    upload_path: str = ""  # a copy under the spec's upload_limit, when the clip is larger
    poster_path: str = ""  # a still of the clip, small enough to post anywhere
    message: str = ""
    # Set when the output scan held or blocked the clip: why (one line), and for a hold the
    # contact sheet moderators decide from.
    review: str = ""
    sheet_path: str = ""


def serialize_job(data: Any) -> bytes:
    """arq's job serializer: JSON, never pickle. Unknown objects (an exception) become text."""
    return json.dumps(data, default=str, separators=(",", ":")).encode()


def deserialize_job(raw: bytes) -> Any:
    return json.loads(raw)
