"""A story's text read shot by shot: each shot may carry its own `-camera`, `-motion`, `-len` and
`-neg`; the flags after the last shot are the whole story's.

    a knight rides out -camera pan left | the knight meets a dragon -len 3 | they share tea -seed 7

Flags after the last shot stay the story's (as before shots had flags of their own), so to
give the last shot its own, end it with `|` and put the story's flags after that:
`… | they share tea -camera zoom_in | -len 2 -seed 7`. Settings that shape or seed the
whole clip (`-ar`, `-seed`, `-fps`, `-sound`, `-fast`/`-hq`, `-style`, …) can only be the
story's: typed in a shot they are an error naming the flag and the shot. A shot's own flag
overrides the story's for that shot. Pure, like the flag language.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass

from core.errors import FlagError
from core.flags import ParsedPrompt
from core.flagtext import clean_text, flag_tokens, quoted_spans
from core.flagvalues import ALLOWED
from core.spec import Camera
from core.story import SEPARATOR

__all__ = ["SHOT_FLAGS", "ShotAsk", "StoryText", "parse_story"]

SHOT_FLAGS: tuple[str, ...] = ("camera", "motion", "len", "neg")  # what a shot may carry
_SHOWN = ", ".join(f"-{name}" for name in SHOT_FLAGS)


@dataclass(frozen=True, slots=True)
class ShotAsk:
    """One shot's own flags as typed (seconds, not frames); None: the story's."""

    camera: Camera | None = None
    motion: int | None = None
    length: float | None = None
    negative: str | None = None

    @property
    def said(self) -> bool:
        return any(v is not None for v in (self.camera, self.motion, self.length, self.negative))


@dataclass(frozen=True, slots=True)
class StoryText:
    """The story's own flags (its prompt: the shots' words joined by ` | `) and each shot's."""

    story: ParsedPrompt
    shots: tuple[ShotAsk, ...]


def split_shots(text: str) -> list[str]:
    """`text` cut at each `|` outside quotes (a quoted `-neg "a | b"` stays whole)."""
    clean = clean_text(text)
    spans = quoted_spans(clean)
    starts = [start for start, _ in spans]
    parts, begin = [], 0
    for i, ch in enumerate(clean):
        if ch != SEPARATOR:
            continue
        k = bisect_right(starts, i) - 1
        if k >= 0 and i < spans[k][1]:
            continue
        parts.append(clean[begin:i].strip())
        begin = i + 1
    parts.append(clean[begin:].strip())
    return parts


def parse_story(text: str, parse: Callable[[str], ParsedPrompt]) -> StoryText:
    """Read a story's text with `parse` (the `/create` reader for the loaded model), shot by
    shot; `FlagError` names the flag and the shot when a shot carries one it can't."""
    parts = split_shots(text)
    story_flags = ""
    if len(parts) > 2 and not parts[-1]:  # `… | last shot -camera x |`: nothing after
        parts.pop()
    elif len(parts) > 1 and _flags_only(parts[-1]):  # `… | last shot -camera x | -len 2`
        story_flags = parts.pop()
    elif parts:  # the last shot's flags are the story's
        last = parts[-1]
        tokens = flag_tokens(last)
        if tokens:
            parts[-1], story_flags = last[: tokens[0].start].strip(), last[tokens[0].start :]
    words: list[str] = []
    asks: list[ShotAsk] = []
    for k, part in enumerate(parts):
        tokens = flag_tokens(part)
        if not tokens:
            words.append(_words(part, k))
            asks.append(ShotAsk())
            continue
        if tokens[0].start == 0 or not part[: tokens[0].start].strip():
            raise FlagError(
                f"Shot {k + 1} of the story has flags but no words: write what happens in it "
                f"first, then its own flags ({_SHOWN}).",
                token=tokens[0].word,
            )
        for tok in tokens:
            name = tok.name.lower()
            if name in ALLOWED and name not in SHOT_FLAGS and not tok.tail:
                raise FlagError(
                    f"`{tok.word}` in shot {k + 1} of the story: it can only be set for the "
                    f"whole story, after the last shot. A shot may carry its own {_SHOWN}.",
                    token=tok.word,
                )
        own = parse(part)  # unknown flags, bad values and lengths: the /create messages
        words.append(_words(own.prompt, k))
        asks.append(
            ShotAsk(
                camera=own.camera,
                motion=own.motion,
                length=own.length,
                negative=own.negative_prompt or None,
            )
        )
    story = parse(" ".join([f" {SEPARATOR} ".join(words), story_flags]).strip())
    return StoryText(story=story, shots=tuple(asks))


def _words(words: str, k: int) -> str:
    """Shot k's words, which can't hold a `|` even in quotes: the story's prompt keeps its
    shots joined by `|`, so one there would be read back as another shot."""
    if SEPARATOR in words:
        raise FlagError(
            f"Shot {k + 1} of the story has a `{SEPARATOR}` in its words: `{SEPARATOR}` only "
            "separates shots, so leave it out of what happens (a -neg may keep one in quotes).",
            token=SEPARATOR,
        )
    return words


def _flags_only(part: str) -> bool:
    tokens = flag_tokens(part)
    return bool(tokens) and not part[: tokens[0].start].strip()
