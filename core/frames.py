"""Keyframes (`/frames`, Pikaframes): 2-5 pictures, each at its point in time, and one prompt
segment per transition ("dawn | noon | dusk").

The pictures are stored as the request's `k0.png` … `k4.png` (`input_media`, in order) and the
prompt stays as the member typed it; the worker conditions picture k at frame
round(k·(N−1)/(K−1)) and gives the model the segments joined into one prompt ("dawn, then noon,
then dusk"), since `LTXConditionPipeline` takes a single prompt.
"""

from __future__ import annotations

from typing import Final

MIN_PICTURES: Final = 2
MAX_PICTURES: Final = 5
SEPARATOR: Final = "|"


def picture_kind(k: int) -> str:
    """The media kind picture `k` (0-based) of a keyframes request is stored under."""
    return f"k{k}.png"


PICTURE_KINDS: Final = tuple(picture_kind(k) for k in range(MAX_PICTURES))


def segments(prompt: str, pictures: int) -> list[str]:
    """One prompt segment per transition between `pictures` pictures: the prompt split on `|`,
    with pictures−1 segments, or one prompt for every transition. ValueError, saying what was
    given and what is allowed, otherwise."""
    if not MIN_PICTURES <= pictures <= MAX_PICTURES:
        raise ValueError(
            f"keyframes take {MIN_PICTURES} to {MAX_PICTURES} pictures, got {pictures}"
        )
    parts = [part.strip() for part in prompt.split(SEPARATOR)]
    if any(not part for part in parts) and len(parts) > 1:
        raise ValueError(f"the prompt {prompt!r} has an empty segment between `|` marks")
    transitions = pictures - 1
    if len(parts) == 1:
        return parts * transitions
    if len(parts) != transitions:
        raise ValueError(
            f"the prompt has {len(parts)} segments for {pictures} pictures; give "
            f"{transitions} (one per transition, split by `|`) or one for all of them"
        )
    return parts


def joined(parts: list[str]) -> str:
    """The segments as the one prompt the model reads, in order; a repeated one said once."""
    kept = [part for i, part in enumerate(parts) if i == 0 or part != parts[i - 1]]
    return ", then ".join(kept)


def frame_indices(pictures: int, num_frames: int) -> list[int]:
    """Where each picture is placed among `num_frames` frames: evenly, first to last."""
    return [round(k * (num_frames - 1) / (pictures - 1)) for k in range(pictures)]
