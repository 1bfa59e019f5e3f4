"""Stories (`/story`): 2-8 shots in one prompt, split by `|`, each continuing from the last.

The prompt stays as the member typed it ("a knight rides out | the knight meets a dragon");
the worker renders shot 1 from its text (or from the member's picture), then each next shot
from the previous shot's last frame with its own text (`worker.story`). Flags typed anywhere in
the prompt apply to the whole story: one length per shot, one seed, one shape.

A story is one request in the fair queue (one job, one place in line) but costs one clip per
shot against the member's daily cap (`cost`), so eight shots are not a way round it.
`num_frames` of a story's spec is its whole length: every shot is `shot_frames` long.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

MIN_SHOTS: Final = 2
MAX_SHOTS: Final = 8
SEPARATOR: Final = "|"
STORY: Final = "story"  # the mode (core.spec.Mode)


def shots(prompt: str) -> list[str]:
    """The shots' texts in order, or ValueError saying what was wrong and how to write one."""
    parts = [part.strip() for part in prompt.split(SEPARATOR)]
    if len(parts) < MIN_SHOTS or len(parts) > MAX_SHOTS:
        raise ValueError(
            f"a story takes {MIN_SHOTS} to {MAX_SHOTS} shots separated by {SEPARATOR}, "
            f"got {len(parts)}"
        )
    empty = [str(k + 1) for k, part in enumerate(parts) if not part]
    if empty:
        raise ValueError(
            f"shot {', '.join(empty)} of the story is empty: write what happens in each shot "
            f"between the {SEPARATOR} marks"
        )
    return parts


def cost(mode: str, prompt: str, retake: int | None = None) -> int:
    """How many clips a request counts against its member's daily cap: one per shot of a
    story, one for anything else (a story's prompt was checked when its spec was made); a
    retake of one shot renders that shot only, so it is one clip."""
    if mode != STORY or retake is not None:
        return 1
    return len(shots(prompt))


def shot_frames(num_frames: int, count: int) -> int:
    """Each shot's frames, from the story's whole length (`count` shots of equal length)."""
    if count < 1 or num_frames % count:
        raise ValueError(f"a story of {count} shots can't be {num_frames} frames long")
    return num_frames // count


def shot_lengths(num_frames: int, count: int, own: Sequence[int | None] = ()) -> list[int]:
    """Each shot's frames: a shot's own `-len` (`own[k]`, None: not given) or the story's
    length a shot, which is what is left of `num_frames` shared equally by the others. Old
    stories (no `own`) are `count` equal shots."""
    if not own:
        return [shot_frames(num_frames, count)] * count
    if len(own) != count:
        raise ValueError(f"a story of {count} shots has {len(own)} shots' own flags")
    given = sum(f for f in own if f is not None)
    rest = sum(1 for f in own if f is None)
    if rest == 0:
        if given != num_frames:
            raise ValueError(f"a story of shots of {given} frames in all can't be {num_frames}")
        return [f for f in own if f is not None]
    if num_frames - given < rest:
        raise ValueError(f"a story of {count} shots can't be {num_frames} frames long")
    base = shot_frames(num_frames - given, rest)
    return [base if f is None else f for f in own]


def story_frames(per_shot: int, count: int) -> int:
    """The story's whole length: `count` shots of `per_shot` frames each."""
    return per_shot * count


def shot_kind(k: int) -> str:
    """The media kind shot `k` (0-based) of a story is kept under until the story is done."""
    if not 0 <= k < MAX_SHOTS:
        raise ValueError(f"a story has shots 0 to {MAX_SHOTS - 1}, not {k}")
    return f"s{k}.mp4"


SHOT_KINDS: Final = tuple(shot_kind(k) for k in range(MAX_SHOTS))


def shot_label(k: int, count: int) -> str:
    """What progress says while shot `k` (0-based) of `count` renders: "shot 2/3"."""
    return f"shot {k + 1}/{count}"
