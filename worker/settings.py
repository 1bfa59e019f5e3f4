"""Settings of a render worker process (`REELBOT_` environment variables or `.env`)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from core.models import CAMERA_LORA_TEMPLATE, LTX_UPSAMPLER_ID, MOTION_ADAPTER_ID
from gallery.settings import GallerySettings
from jobs.settings import QueueSettings
from worker.scan import DEFAULT_BLOCK, DEFAULT_HOLD, DEFAULT_SAMPLES


class ModelSettings(BaseSettings):
    """Where a family's repositories come from: read alike by the worker and by `reelbot models`
    (list, check, pull), from the environment and `.env`, so a pull lands where the worker looks."""

    model_config = SettingsConfigDict(
        env_prefix="REELBOT_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    model: str | None = Field(
        default=None,
        description="model id or local folder of weights (unset: the family's default, from "
        "REELBOT_MODELS_DIR when pulled there)",
    )
    models_dir: Path | None = Field(
        default=None,
        description="where `reelbot models pull` puts repositories (<dir>/<owner>/<name>); a hub "
        "id found there loads from there",
    )
    ltx_upsampler_model: str = Field(
        default=LTX_UPSAMPLER_ID, description="ltx: spatial upsampler, hub id or folder"
    )
    animatediff_motion_adapter: str = Field(
        default=MOTION_ADAPTER_ID, description="animatediff: motion adapter, hub id or folder"
    )
    animatediff_motion_loras: str = Field(
        default=CAMERA_LORA_TEMPLATE,
        pattern=r"\{name\}",
        description="animatediff: camera MotionLoRAs, a hub id or folder with {name} (zoom-in, "
        "pan-left, …) in it",
    )

    regions_model: str | None = Field(
        default=None,
        description="wan_vace: the region finder (SAM 3) for an edit's words, hub id or folder, "
        "loaded at the first such edit (unset: facebook/sam3, or builtin:tiny for a builtin:tiny "
        "model)",
    )

    @field_validator("models_dir", mode="before")
    @classmethod
    def _expanded(cls, value: object) -> object:
        """`~` expanded (as a shell would have), and an empty line in `.env` meaning unset."""
        if isinstance(value, str):
            return Path(value.strip()).expanduser() if value.strip() else None
        return value


class WorkerConfig(QueueSettings, GallerySettings, ModelSettings):
    """One worker process renders one clip at a time on one device."""

    device: str = Field(default="auto", description="auto, cpu, cuda or cuda:N")
    poll_delay_s: float = Field(default=0.02, gt=0, le=5, description="idle queue poll interval")
    heartbeat_s: float = Field(default=1.0, gt=0, le=60, description="how often a worker beats")
    lease_s: float = Field(
        default=15.0,
        gt=0,
        le=600,
        description="a worker silent this long is dead and its clip is retried elsewhere",
    )
    reconcile_s: float = Field(
        default=60.0,
        gt=0,
        description="how often a worker re-queues requests the database has but Redis lost",
    )
    reconcile_grace_s: float = Field(
        default=120.0,
        gt=0,
        description="a queued request is re-queued only once this old (its submission may "
        "still be on its way to Redis before then)",
    )
    work_limit: float = Field(
        default=1.0,
        gt=0,
        description="a job may ask for this many times the work (width x height x frames x "
        "steps) of the loaded family's largest clip, an upscale of its longest at its default "
        "steps; a bigger one is refused unrendered",
    )
    style_adapters_resident: int = Field(
        default=4,
        ge=1,
        le=64,
        description="style and effect LoRAs kept loaded at once; the least recently used one "
        "past this is unloaded",
    )
    watermark: bool = Field(default=True, description="mark frames with the generation id")
    c2pa_cert_file: Path | None = Field(
        default=None, description="PEM signing certificate then its chain; signs clips (C2PA)"
    )
    c2pa_key_file: Path | None = Field(default=None, description="PEM private key (ES256)")
    scan_classifiers: str = Field(
        default="auto",
        description="frame classifiers for the output scan: auto (nudenet when the nsfw extra "
        "is installed, plus clip when a CLIP model is set), none, or a list: nudenet,clip",
    )
    scan_clip_model: str | None = Field(
        default=None, description="CLIP model id or folder for the zero-shot output scan"
    )
    sound_model: str | None = Field(
        default=None,
        description="text to audio for -sound and 🔊 Add sound: a Stable Audio 3 folder (or hub "
        "id) in diffusers layout, builtin:tiny, or off; unset: builtin:tiny for the tiny family, "
        "else stabilityai/stable-audio-3-medium, found under REELBOT_MODELS_DIR",
    )
    tts_model: str | None = Field(
        default=None,
        description="text to speech for /speak's typed lines: a Dia folder (or hub id) in "
        "transformers layout, builtin:tiny, or off; unset: builtin:tiny beside tiny weights, "
        "else nari-labs/Dia-1.6B-0626, found under REELBOT_MODELS_DIR",
    )
    scan_hold: dict[str, float] = Field(
        default_factory=lambda: dict(DEFAULT_HOLD),
        description='category → score at which a clip waits for a moderator (JSON: {"nudity":0.5})',
    )
    scan_block: dict[str, float] = Field(
        default_factory=lambda: dict(DEFAULT_BLOCK),
        description="category → score at which a clip is never posted",
    )
    scan_samples: int = Field(
        default=DEFAULT_SAMPLES, ge=1, le=64, description="frames scanned besides first and last"
    )
    metrics_port: int | None = Field(
        default=None,
        ge=0,
        le=65535,
        description="serve Prometheus /metrics on this port (all interfaces); 0: any free port, "
        "logged; unset: off",
    )
