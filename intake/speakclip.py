"""/speak clip:… (`reelbot create --speak-clip`): a member's finished clip speaks a voice or a
typed line, a new child clip of it owned by whoever asked, as an edit is (`intake.edits`).

The clip is named and checked as /add's and /swap's (`intake.edits.check_parent`: not found,
deleted, hidden from this member, held, still rendering or unfinished are refused). The new clip
keeps the clip's shape, rate, words and motion (LTX-2 re-renders it on its own frames:
`worker.backends.ltx2.clip_condition`) and lasts as long as the voice: a voice longer than the
clip is refused with both lengths, a shorter one cuts the clip to it (the clip ends with the
voice, rather than a face that falls silent). A typed line gets the whole clip, up to the
family's longest speaking clip, and the worker fits the speech to it.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from pydantic import ValidationError

from core.errors import FlagError, UserFacingError
from core.flags import random_seed
from core.flagtext import clean_text, flag_tokens
from core.rendercaps import Capabilities
from core.speak import SPEAK_CLIP, voice_seconds_allowed
from core.spec import DEFAULT_QUALITY, Quality, RenderSpec
from intake.children import child_fields, child_quality
from intake.followups import Owner, other_seed

MAX_PROMPT_CHARS = 300  # what the clip shows besides, as an edit's instruction


def clip_prompt(text: str | None, parent: RenderSpec) -> str:
    """The words LTX-2 (and the policy) read: the member's, else the clip's own prompt. Flags
    are refused: the clip's shape, length and look are its own."""
    words = clean_text(text or "")
    tokens = flag_tokens(words)
    if tokens:
        flag = tokens[0].word
        raise FlagError(
            f"On a clip, /speak takes words only: the clip keeps its own shape, length and "
            f"look. Remove `{flag}`.",
            token=flag,
        )
    if len(words) > MAX_PROMPT_CHARS:
        raise FlagError(
            f"Your prompt is {len(words)} characters; keep it to {MAX_PROMPT_CHARS} on a clip."
        )
    return words or parent.prompt


def clip_frames(parent: RenderSpec, capabilities: Capabilities, seconds: float | None) -> int:
    """The new clip's frame count at the clip's rate: as long as the voice (to the next frame),
    or the whole clip for a typed line; never longer than the clip or the family's longest
    speaking clip, and a voice that doesn't fit is refused with both lengths."""
    allowed = voice_seconds_allowed(capabilities.max_seconds)
    most = min(parent.num_frames, max(1, int(allowed * parent.fps + 1e-6)))
    if seconds is None:
        return most
    if seconds > parent.duration_s + 1e-6:
        raise UserFacingError(
            f"Your voice is {seconds:.1f} s but the clip is {parent.duration_s:.1f} s: a clip "
            "can only speak a voice that fits in it. Trim the voice, or pick a longer clip."
        )
    if seconds > allowed + 1e-6:
        raise UserFacingError(
            f"Your voice is {seconds:.1f} s; the model here (`{capabilities.name}`) makes "
            f"speaking clips of at most {allowed:g} s. Trim the voice and attach it again."
        )
    return min(most, max(1, math.ceil(seconds * parent.fps - 1e-6)))


def speak_clip_spec(
    parent: RenderSpec,
    parent_id: str,
    asker: Owner,
    capabilities: Capabilities,
    *,
    parent_media: str,
    prompt: str | None = None,
    voice: str | None = None,
    voice_seconds: float | None = None,
    line: str = "",
    hide: bool | None = None,
    seed: int | None = None,
    seed_source: Callable[[], int] = random_seed,
    default_quality: Quality = DEFAULT_QUALITY,
) -> RenderSpec:
    """The speaking child of `parent` for `asker`, sized for `capabilities` (the family that
    makes clips speak). `voice` is the stored voice (its place may hold the parent's video
    until it is stored: a request screened before the download); else `line` is said."""
    words = clip_prompt(prompt, parent)
    num_frames = clip_frames(parent, capabilities, voice_seconds if voice else None)
    width, height = capabilities.snap_size(parent.width, parent.height)
    quality = child_quality(capabilities, default_quality)
    if seed is None:
        seed = other_seed(parent.seed, seed_source)()
    media = (parent_media, voice) if voice else (parent_media,)
    fields = {
        **child_fields(parent, parent_id, asker, capabilities, seed=seed, quality=quality),
        "prompt": words,
        "aspect_ratio": parent.aspect_ratio,
        "width": width,
        "height": height,
        "num_frames": num_frames,
        "mode": SPEAK_CLIP,
        "input_media": media,
        "speak_text": "" if voice else line,
        "hidden": bool(hide) or parent.hidden or asker.guild_id is None,
    }
    try:
        return RenderSpec.model_validate(fields)
    except ValidationError as exc:
        raise FlagError(f"This clip can't be made to speak ({exc.errors()[0]['msg']}).") from None


def speak_clip_note(parent: RenderSpec, spec: RenderSpec, seconds: float | None) -> str:
    """What the member is told beside the queued answer: what the clip says, and any cut."""
    said = (
        f"Your clip speaks your {seconds:.1f} s voice; it is the clip's sound."
        if seconds is not None
        else "Your clip says your line in a generated voice."
    )
    if spec.num_frames < parent.num_frames:
        said += f" It is the clip's first {spec.duration_s:.1f} s of {parent.duration_s:.1f} s" + (
            ", as long as your voice." if seconds is not None else "."
        )
    return said
