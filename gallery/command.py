"""The `/create` line that remakes a stored clip, for the "Remix in Discord" hint. Pure.

The gallery imports neither the bot nor the job contract, so this is a small copy of
`core.flags.to_command_line` and the quoting of `core.flagtext.command_texts`, reading the stored
spec (a JSON dict) by key. tests/gallery/test_command.py checks that both give the same line and
that the bot's parser reads it back to the same spec, so the copies cannot drift apart unseen.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Mapping
from typing import Any

# The bot's defaults (core.flags / core.spec); a flag at its default is left out.
DEFAULT_MOTION = 1
DEFAULT_ASPECT = "16:9"
DEFAULT_GUIDANCE = 12.0
DEFAULT_FPS = 24

_FLAG = re.compile(r"(?<!\S)(?:--|[-–—])([A-Za-z]+)(\S*)")
_QUOTES = {'"': '"', "'": "'", "“": "”", "‘": "’"}
_WORD_END = frozenset(" ,.;:!?)]}")


def create_command(spec: Mapping[str, Any]) -> str:
    """`/create prompt:` text for a stored spec: the prompt, every non-default flag, the seed."""
    parts = [command_texts(str(spec.get("prompt", "")), str(spec.get("negative_prompt") or ""))]
    style = spec.get("style")
    if isinstance(style, Mapping) and style.get("name"):
        parts += ["-style", str(style["name"])]
    motion = int(spec.get("motion", DEFAULT_MOTION))
    if motion != DEFAULT_MOTION:
        parts += ["-motion", str(motion)]
    if spec.get("camera"):
        parts += ["-camera", str(spec["camera"])]
    aspect = str(spec.get("aspect_ratio") or DEFAULT_ASPECT)
    if aspect != DEFAULT_ASPECT:
        parts += ["-ar", aspect]
    guidance = float(spec.get("guidance_scale", DEFAULT_GUIDANCE))
    if guidance != DEFAULT_GUIDANCE:
        parts += ["-gs", _number(guidance)]
    fps = int(spec.get("fps", DEFAULT_FPS))
    if fps != DEFAULT_FPS:
        parts += ["-fps", str(fps)]
    if spec.get("num_frames"):
        parts += ["-len", _seconds(int(spec["num_frames"]), fps)]
    if spec.get("hidden"):
        parts.append("-hide")
    if spec.get("sound"):
        parts.append("-sound")
    if spec.get("seed") is not None:
        parts += ["-seed", str(int(spec["seed"]))]
    return " ".join(parts)


def _number(value: float) -> str:
    return str(int(value)) if value == int(value) else repr(value)


def _seconds(num_frames: int, fps: int) -> str:
    """The shortest decimal length that gives back exactly `num_frames` at `fps`."""
    exact = num_frames / fps
    for places in range(7):
        candidate = round(exact, places)
        if max(1, round(candidate * fps)) == num_frames:
            return _number(candidate)
    return repr(exact)


# --- quoting, as core/flagtext.py ----------------------------------------------------------


def _quoted_spans(text: str) -> list[tuple[int, int]]:
    closers: dict[str, list[int]] = {}
    for j, ch in enumerate(text):
        if ch in _QUOTES.values() and (j + 1 == len(text) or text[j + 1] in _WORD_END):
            closers.setdefault(ch, []).append(j)
    spans: list[tuple[int, int]] = []
    i = 0
    while i < len(text):
        closer = _QUOTES.get(text[i])
        if closer is not None and (i == 0 or text[i - 1] == " "):
            positions = closers.get(closer, [])
            k = bisect_right(positions, i)
            if k < len(positions):
                spans.append((i, positions[k] + 1))
                i = positions[k] + 1
                continue
        i += 1
    return spans


def _flag_tokens(text: str) -> list[tuple[int, int, str]]:
    """(start, end, word) of each flag-looking word outside quotes."""
    spans = _quoted_spans(text)
    starts = [start for start, _ in spans]
    tokens = []
    for match in _FLAG.finditer(text):
        k = bisect_right(starts, match.start()) - 1
        if k >= 0 and match.start() < spans[k][1]:
            continue
        tokens.append((match.start(), match.end(), match[0]))
    return tokens


def _read_text(segment: str) -> str | None:
    segment = segment.strip()
    if _flag_tokens(segment):
        return None
    spans = _quoted_spans(segment)
    if spans and spans[0] == (0, len(segment)):
        return segment[1:-1].strip()
    return segment


def command_texts(prompt: str, negative: str) -> str:
    """`PROMPT` or `PROMPT -neg NEGATIVE`, quoted where needed so that both read back exactly."""
    fallback = f"{prompt} -neg {negative}" if negative else prompt
    for shown_prompt in _renderings(prompt):
        for shown_negative in _renderings(negative) if negative else [""]:
            line = f"{shown_prompt} -neg {shown_negative}" if negative else shown_prompt
            if _reads_back(line, prompt, negative):
                return line
    return fallback


def _renderings(text: str) -> list[str]:
    pairs = sorted(_QUOTES.items(), key=lambda pair: pair[0] in text or pair[1] in text)
    quoted = (f"{opener}{text}{closer}" for opener, closer in pairs)
    return [shown for shown in (text, *quoted) if _read_text(shown) == text]


def _reads_back(line: str, prompt: str, negative: str) -> bool:
    tokens = _flag_tokens(line)
    if not negative:
        return not tokens and _read_text(line) == prompt
    if len(tokens) != 1 or tokens[0][2] != "-neg":
        return False
    start, end, _ = tokens[0]
    return _read_text(line[:start]) == prompt and _read_text(line[end:]) == negative
