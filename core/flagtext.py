"""`/create` text as words: where quotes are, which words are flags, and how to quote back.

Quoted text is never split into flags, so `-neg "text, -blurry"` or a prompt like
`a sign that says "-50%"` read as written. A quote opens at the start of a word and closes at
the end of one, so apostrophes (`fox's`) stay text; a quote with no partner is plain text.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_right
from dataclasses import dataclass

from core.text import BIDI_CONTROLS

# A flag is a dash (or --, or the en/em dash phones turn -- into) and letters at a word start;
# anything glued after the letters is kept so that `-motion3` can be reported, not swallowed.
_FLAG = re.compile(r"(?<!\S)(?:--|[-–—])([A-Za-z]+)(\S*)")
_QUOTES = {'"': '"', "'": "'", "“": "”", "‘": "’"}
_QUOTE_MARKS = frozenset(_QUOTES) | frozenset(_QUOTES.values())
_DASHES = frozenset("-–—")  # every flag starts with one (see _FLAG)
_WORD_END = frozenset(" ,.;:!?)]}")
_SHOT_BREAK = "|"  # core.story.SEPARATOR: where a story's text is cut into its shots
# Invisible characters, and bidi controls: those would reorder the prompt wherever it is shown.
_INVISIBLE = frozenset("\u00ad\u200b\u2060\ufeff") | BIDI_CONTROLS


@dataclass(frozen=True, slots=True)
class FlagToken:
    """One flag-looking word: `word` as typed (`—Motion`), `name` its letters, `tail` the rest."""

    start: int
    end: int
    word: str
    name: str
    tail: str


def clean_text(text: str) -> str:
    """Control and invisible characters dropped, every run of whitespace one space."""
    if text.isascii() and text.isprintable():  # most prompts: nothing to drop, in C
        return " ".join(text.split())
    kept = (
        " " if ch.isspace() else ch
        for ch in text
        if ch.isspace() or (ch not in _INVISIBLE and unicodedata.category(ch) not in ("Cc", "Cs"))
    )
    return " ".join("".join(kept).split())


def quoted_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each quoted stretch, quotes included, left to right, never nested."""
    if _QUOTE_MARKS.isdisjoint(text):  # most prompts and values: no quote at all
        return []
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


def flag_tokens(text: str) -> list[FlagToken]:
    """The flag-looking words of cleaned text that are not inside quotes, left to right."""
    if _DASHES.isdisjoint(text):  # a value like `9:16`, or a prompt with no flags
        return []
    spans = quoted_spans(text)
    starts = [start for start, _ in spans]
    tokens = []
    for match in _FLAG.finditer(text):
        k = bisect_right(starts, match.start()) - 1
        if k >= 0 and match.start() < spans[k][1]:
            continue
        tokens.append(FlagToken(match.start(), match.end(), match[0], match[1], match[2]))
    return tokens


def read_text(segment: str) -> str | None:
    """The text a flag-free stretch stands for (outer quotes taken off); None if it has flags."""
    segment = segment.strip()
    if flag_tokens(segment):
        return None
    spans = quoted_spans(segment)
    if spans and spans[0] == (0, len(segment)):
        return segment[1:-1].strip()
    return segment


def command_texts(prompt: str, negative: str) -> str:
    """`PROMPT` or `PROMPT -neg NEGATIVE`, quoted where needed so that both read back exactly."""
    fallback = f"{prompt} -neg {negative}" if negative else prompt
    negatives = _renderings(negative) if negative else [""]
    if _SHOT_BREAK in negative:  # quoted first: a story's line is cut at each bare `|`
        negatives.sort(key=lambda shown: shown == negative)
    for shown_prompt in _renderings(prompt):
        for shown_negative in negatives:
            line = f"{shown_prompt} -neg {shown_negative}" if negative else shown_prompt
            if _reads_back(line, prompt, negative):
                return line
    return fallback


def value_text(text: str) -> str:
    """`text` written as a flag's value that reads back as it (`-sound "rain on a tin roof"`):
    in quotes when it has several words, as members are shown to write it; bare when one.
    A `|` is quoted too: a story's line is cut into shots at each bare one."""
    shown = _renderings(text)
    quoted = [rendering for rendering in shown if rendering != text]
    if quoted and (" " in text or _SHOT_BREAK in text or text not in shown):
        return quoted[0]
    return shown[0] if shown else f'"{text}"'


def _renderings(text: str) -> list[str]:
    """Ways to write `text` that read back as it on their own: as is, then in quotes it lacks."""
    pairs = sorted(_QUOTES.items(), key=lambda pair: pair[0] in text or pair[1] in text)
    quoted = (f"{opener}{text}{closer}" for opener, closer in pairs)
    return [shown for shown in (text, *quoted) if read_text(shown) == text]


def _reads_back(line: str, prompt: str, negative: str) -> bool:
    tokens = flag_tokens(line)
    if not negative:
        return not tokens and read_text(line) == prompt
    if len(tokens) != 1 or tokens[0].word != "-neg":
        return False
    neg = tokens[0]
    return read_text(line[: neg.start]) == prompt and read_text(line[neg.end :]) == negative
