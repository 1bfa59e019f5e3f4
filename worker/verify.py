"""`reelbot verify`: everything a video file says about its origin, from every provenance layer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from worker.c2pa_manifest import read_c2pa
from worker.media_budget import UnreadableMedia
from worker.media_sandbox import read_provenance
from worker.provenance import ProvenanceError, clip_url, metadata_from_tags
from worker.watermark import MIN_CONFIDENCE


def verify_clip(path: Path, *, lookup: Any = None, public_url: str | None = None) -> dict[str, Any]:
    """Everything the clip says about its origin, as `reelbot verify` prints it.

    `lookup(prefix) -> full generation id | None` maps a watermark's id prefix to a gallery row.
    Raises ProvenanceError for a file that is not a readable video, or would cost more to
    decode than any clip of ours (the file is read in a sandboxed child, `worker.media_sandbox`:
    a stranger's file is untrusted input).
    """
    path = Path(path)
    if not path.is_file():
        raise ProvenanceError(f"{path} is not a file")
    try:
        tags, reading = read_provenance(path)
    except UnreadableMedia as exc:  # one line: what is wrong with the file
        raise ProvenanceError(f"{path.name}: {exc.reason}") from None
    metadata = metadata_from_tags(tags)
    watermark = None
    prefix = reading.generation_id_prefix if reading else None
    if reading is not None and prefix is not None and reading.confidence >= MIN_CONFIDENCE:
        watermark = {
            "payload": np.packbits(reading.bits.astype(np.uint8)).tobytes().hex(),
            "generation_id_prefix": prefix,
            "confidence": round(reading.confidence, 3),
            "frames": reading.frames,
        }
    generation_id = metadata.get("generation_id") if metadata else None
    if generation_id is None and prefix and watermark is not None and lookup is not None:
        generation_id = lookup(prefix)
    url = metadata.get("url") if metadata else None
    if url is None and generation_id is not None:
        url = clip_url(public_url, generation_id)
    return {
        "ours": metadata is not None or watermark is not None,
        "metadata": metadata,
        "watermark": watermark,
        "c2pa": read_c2pa(path),
        "generation_id": generation_id,
        "url": url,
    }
