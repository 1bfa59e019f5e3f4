"""How the prompt policy reads text: folded, split into words, leetspeak and spacing undone.

Every step is linear in the text (prompts are at most 1,500 characters):
1. fold: Unicode compatibility folding (NFKC's mappings, applied as NFKD so that accents split
   off and drop), casefold, zero-width, format and control characters and combining marks
   removed, look-alike letters (Cyrillic, Greek, small capitals, enclosed and regional-indicator
   letters) mapped to Latin. Full-width and "mathematical" letters fold in the first step.
2. views: the words (every run of characters that are not letters or digits becomes one space,
   apostrophes go: this is `normalized`); the same with the separators inside a word dropped
   (`n.u.d.e`, `n_u_d_e`, `nu-de` → `nude`) and, where a word mixes letters with `0 1 3 4 5 7 @ $`,
   leetspeak read (`1` both as `i` and as `l`; a bare number such as 7175 stays a number); and
   runs of single characters joined (`n u d e` → `nude`), where words match anywhere in the run.

`core.policy` matches its rules against these views.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from typing import NamedTuple

__all__ = ["Views", "entry_text", "fold", "views", "words_of"]

_CONFUSABLES = {
    **dict(zip("АВЕКМНОРСТХУЅІЈԁһԛԝ", "abekmhopctxysijdhqw", strict=True)),  # Cyrillic
    **dict(zip("авеорсухѕіјкмнтпьгѵ", "abeopcyxsijkmhtnbrv", strict=True)),
    **dict(zip("ΑΒΕΖΗΙΚΜΝΟΡΤΥΧ", "abezhikmnoptyx", strict=True)),  # Greek
    **dict(zip("αβεηικνορτυχωγςϲ", "abenikvoptuxwysc", strict=True)),
    **dict(zip("ᴀʙᴄᴅᴇꜰɢʜɪᴊᴋʟᴍɴᴏᴘʀꜱᴛᴜᴠᴡʏᴢı", "abcdefghijklmnoprstuvwyzi", strict=True)),
}
_INVISIBLE = {0x115F, 0x1160, 0x3164, 0xFFA0, 0x034F}  # Hangul fillers, grapheme joiner
_LETTER_RANGES = (0x1F150, 0x1F170, 0x1F1E6)  # negative circled, negative squared, regional
_TABLE_CAP = 50_000


def _fold_char(ch: str) -> str | None:
    cp = ord(ch)
    if ch in _CONFUSABLES:
        return _CONFUSABLES[ch]
    for start in _LETTER_RANGES:
        if start <= cp < start + 26:
            return chr(cp - start + 97)
    if cp in _INVISIBLE:
        return None
    if ch.isspace():
        return " "
    category = unicodedata.category(ch)
    if category in ("Mn", "Me", "Cf", "Cc") or unicodedata.combining(ch):
        return None  # marks (also what keeps NFKD linear), zero-width and control characters
    if category[0] in "CZ":
        return " "  # private use, unassigned, separators
    return ch


class _LazyTable(dict[int, str | None]):
    """A `str.translate` table that fills itself on first sight of a character (bounded)."""

    def __init__(self, fn: Callable[[str], str | None], ascii_too: bool = True) -> None:
        super().__init__()
        self._fn = fn
        if ascii_too:
            self.update({cp: fn(chr(cp)) for cp in range(128)})

    def __missing__(self, cp: int) -> str | None:
        value = self._fn(chr(cp))
        if len(self) < _TABLE_CAP:
            self[cp] = value
        return value


_APOSTROPHES = "'’ʼ`´"  # it's → its, in every view
_WORD_BREAKS = ',:;!?()[]{}<>"“”«»'  # punctuation that ends a word even without a space


def _keep_alnum(ch: str) -> str | None:
    if ch in _APOSTROPHES:
        return None
    return ch if ch.isalnum() else " "


def _join_words(ch: str) -> str | None:
    if ch.isalnum() or ch in "@$":
        return ch
    if ch.isspace() or ch in _WORD_BREAKS:
        return " "
    return None  # . - _ * ~ | / + and other symbols inside a word are dropped


_FOLD = _LazyTable(_fold_char, ascii_too=False)
_ASCII_CONTROLS = {cp: " " if chr(cp).isspace() else None for cp in (*range(32), 127)}
_SPACED = _LazyTable(_keep_alnum)  # every non-letter, non-digit → a space
_JOINED = _LazyTable(_join_words)  # separators inside words dropped: n.u.d.e, n_u_d_e → nude
# The same for ASCII text, as bytes tables (several times faster on short strings).
_SPACED_BYTES = bytes(ord(_keep_alnum(chr(b)) or "\0") for b in range(128)) + bytes(range(128, 256))
_SPACED_DROP = bytes(b for b in range(128) if _keep_alnum(chr(b)) is None)
_JOINED_BYTES = bytes(ord(_join_words(chr(b)) or "\0") for b in range(128)) + bytes(range(128, 256))
_JOINED_DROP = bytes(b for b in range(128) if _join_words(chr(b)) is None)
_LEET_I = str.maketrans("013457@$", "oieastas")
_LEET_L = str.maketrans("013457@$", "oleastas")
_MIXED = re.compile(r"(?<![\w@$])(?=[\w@$]*[013457@$])(?=[\w@$]*[^\W\d_])[\w@$]+")
_SINGLES = re.compile(r" \S(?= )(?: \S(?!\S))+")  # n u d e
# A leet character that reads as a letter: after a letter (s3x, nud3, a55), or starting a word
# of letters (5ex, 0rgy, $ex); "4k", "3d", "16:9", "1080p" and "35mm" are left alone.
_LEETY = re.compile(r"[013457@$](?:(?<=[^\W\d_].)|(?<![\w@$].)(?=[^\W\d_]{2}))")
_LETTER = re.compile(r"[^\W\d_]")
_LONG_RUN = re.compile(r"(.)\1{3,}")


def _leet_i(m: re.Match[str]) -> str:
    return m[0].translate(_LEET_I)


def fold(text: str) -> str:
    """Compatibility- and case-folded text without invisible characters or accents."""
    if text.isascii():
        text = text.lower()
        return text if text.isprintable() else text.translate(_ASCII_CONTROLS)
    text = unicodedata.normalize("NFKD", text.translate(_FOLD))
    return text.translate(_FOLD).casefold()


def _squeeze(text: str) -> str:
    while "  " in text:  # each pass halves the runs of spaces: a few passes at most
        text = text.replace("  ", " ")
    return text.strip()


def _spaced(folded: str) -> str:
    if folded.isascii():
        return _squeeze(folded.encode().translate(_SPACED_BYTES, _SPACED_DROP).decode())
    return _squeeze(folded.translate(_SPACED))


def _joined(folded: str) -> str:
    if folded.isascii():
        return _squeeze(folded.encode().translate(_JOINED_BYTES, _JOINED_DROP).decode())
    return _squeeze(folded.translate(_JOINED))


def words_of(text: str) -> str:
    """The folded text as words: letters and digits, one space between words."""
    return _spaced(fold(text))


class Views(NamedTuple):
    """A text as the rules see it."""

    normalized: str  # the folded words, one space between them
    scan: str  # " " + each view, joined by newlines: normalized, then leetspeak or joined words
    leet_from: int  # where the leet views start in `scan` (past the end: none)
    leet_source: str  # the text the leet views were translated from (same length)
    runs: tuple[str, ...]  # runs of single characters joined ("n u d e" → "nude"), leet read

    def has_letter(self, start: int, end: int) -> bool:
        """Whether a match in a leet view was written with a letter (a bare 7175 is a number)."""
        width = len(self.leet_source) + 2
        offset = (start - self.leet_from) // width * width + self.leet_from
        return _LETTER.search(self.leet_source, start - offset, end - offset) is not None


def views(text: str, context: int = 2) -> Views:
    """The views of `text`; `context` is how many words around a joined word ("nu-de") its view
    keeps, so that phrases still match there."""
    folded = fold(text)
    base = _spaced(folded)
    joined = _joined(folded)
    parts = [base]
    leet_from = len(base) + 3
    if _LEETY.search(joined):
        for table in (_LEET_I, _LEET_L) if "1" in joined else (_LEET_I,):
            leet = joined.translate(table)
            if leet not in parts:
                parts.append(leet)
    elif joined.count(" ") != base.count(" "):
        # Only the words that joining changed, with their neighbours: "close-up" in a long
        # prompt does not cost a second pass over all of it.
        words = joined.split(" ")
        known = set(base.split(" "))
        changed = [i for i, word in enumerate(words) if word not in known]
        if len(changed) * (2 * context + 1) < len(words):
            windows = (" ".join(words[max(0, i - context) : i + context + 1]) for i in changed)
            parts.append("\n ".join(windows))
        else:
            parts.append(joined)
        leet_from = 1 << 62  # not leet: every match counts
    runs: list[str] = []
    if " " in base:
        for run in _SINGLES.findall(f" {base} "):
            # no listed word needs a letter more than 3 times in a row; shorter runs keep the
            # match anywhere in the run linear ("a a a a ..." is not 750 tries of "aaa...")
            run = _LONG_RUN.sub(r"\1\1\1", run.replace(" ", ""))
            runs.append(run.translate(_LEET_I))
            if "1" in run:
                runs.append(run.translate(_LEET_L))
    return Views(base, " " + "\n ".join(parts), leet_from, joined, tuple(runs))


def entry_text(item: str) -> str:
    """A listed word or phrase as the rules match it: folded, leetspeak read where a word mixes
    letters and digits, one space between words ("" when nothing is left)."""
    return _squeeze(_MIXED.sub(_leet_i, fold(item)).translate(_SPACED))
