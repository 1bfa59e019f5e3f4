"""Provenance: what a clip says about where it came from.

Three layers, each surviving a different kind of copy:

1. MP4 tags in `moov/udta` (title, description, and `comment` holding a JSON payload): prompt,
   seed, backend/model, generation id, reelbot version, gallery URL. Any remux keeps them; any
   re-encode that does not copy tags loses them. Written from `ClipProvenance.tags` by the
   encoder, read back here.
2. An invisible watermark in the luma of the frames, carrying the first 64 bits of the generation
   id and a 16-bit check. It survives re-encodes at lower bit rates (our own upload-fitted copy
   included) as long as the picture is not resized or cropped (`worker.watermark`).
3. Optionally a C2PA manifest signed with the operator's key (`worker.c2pa_manifest`).

`reelbot verify` reads all three back (`worker.verify`). Reading tags needs PyAV; each optional
package is imported where it is used (`optional_import`), with a message naming it.
"""

from __future__ import annotations

import importlib
import json
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # annotations only: `reelbot verify` runs where no worker settings are
    from core.spec import RenderJob
    from worker.settings import WorkerConfig

TAG_SCHEMA = "reelbot/provenance@1"


class ProvenanceError(Exception):
    """A file that cannot be read as a video at all (the CLI exits 2 with this message)."""


class MissingDependency(ProvenanceError):
    """An optional package this step needs is not installed."""


@dataclass(frozen=True)
class ClipProvenance:
    """What a clip says about itself; written as MP4 tags and into the C2PA manifest."""

    generation_id: str
    prompt: str
    seed: int
    backend: str
    model: str | None
    reelbot_version: str
    url: str | None = None

    def tags(self) -> dict[str, str]:
        payload = {"schema": TAG_SCHEMA, **asdict(self)}
        return {
            "title": self.prompt[:250],
            "comment": json.dumps(payload, ensure_ascii=True, separators=(",", ":")),
            "description": f"Made with reelbot {self.reelbot_version}, generation "
            f"{self.generation_id}" + (f", {self.url}" if self.url else ""),
        }


def reelbot_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("reelbot")
    except PackageNotFoundError:
        return "unknown"


def clip_url(public_url: str | None, generation_id: str) -> str | None:
    return f"{public_url.rstrip('/')}/clips/{generation_id}" if public_url else None


def clip_provenance(job: RenderJob, config: WorkerConfig) -> ClipProvenance:
    """What the clip will say about itself (tags, C2PA manifest)."""
    return ClipProvenance(
        generation_id=job.generation_id,
        prompt=job.spec.full_prompt(),
        seed=job.spec.seed,
        backend=job.spec.backend,
        model=config.model,
        reelbot_version=reelbot_version(),
        url=clip_url(config.public_url, job.generation_id),
    )


def optional_import(module: str, package: str) -> Any:
    """`module`, or MissingDependency naming the `package` that provides it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingDependency(
            f"this needs {package}, which is not installed (pip install 'reelbot[worker]')"
        ) from None


def metadata_from_tags(tags: dict[str, str]) -> dict[str, Any] | None:
    """Our JSON payload from the `comment` tag, or None if there is none."""
    try:
        payload = json.loads(tags.get("comment", ""))
    except ValueError:
        return None
    if not isinstance(payload, dict) or payload.get("schema") != TAG_SCHEMA:
        return None
    return payload
