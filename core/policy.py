"""The prompt policy: allow a request, hold it for moderator review (flag), or refuse it (block).

Pure: no discord, redis, torch or database. A policy is a list of rules read from TOML (the
shipped `core/policy_default.toml` unless the operator sets `REELBOT_POLICY_FILE`); each rule has
an id, a category, a decision, a member-facing reason and words, phrases and regexes.

How text is read (every step linear in the text; prompts are at most 1,500 characters):
1. fold: Unicode compatibility folding (NFKC's mappings, applied as NFKD so that accents split
   off and drop), casefold, zero-width, format and control characters and combining marks
   removed, look-alike letters (Cyrillic, Greek, small capitals, enclosed and regional-indicator
   letters) mapped to Latin. Full-width and "mathematical" letters fold in the first step.
2. views: the words (every run of characters that are not letters or digits becomes one space,
   apostrophes go: this is `normalized`); the same with the separators inside a word dropped
   (`n.u.d.e`, `n_u_d_e`, `nu-de` → `nude`) and, where a word mixes letters with `0 1 3 4 5 7 @ $`,
   leetspeak read (`1` both as `i` and as `l`; a bare number such as 7175 stays a number); and
   runs of single characters joined (`n u d e` → `nude`), where words match anywhere in the run.
3. Words and phrases match whole words, plus a plural `s`; each letter of a listed word matches a
   run of that letter (`nude` matches `nuuuude`; `boobs` needs two `o`s, so `bobs` passes); the
   spaces of a phrase may be left out (`childporn`). Regexes are tried at the start of every word
   of the views (lowercase, one space between words). At a word start the first of these that
   matches counts: block rules' regexes, then words and phrases (longest first), then the other
   regexes. A listed phrase also counts for every listed word or phrase inside it.
4. The strongest decision of the rules that matched wins (block > flag > allow), the earlier rule
   on a tie, the prompt before the negative prompt. A rule with `requires` only counts when the
   positive prompt also matched a rule (by id or category) named there, so "child" alone is fine
   and "child" next to a sexual term is blocked. `exempt` phrases hide the words inside them.

All words, phrases and regexes compile into one pattern, tried at each space of the views; a
second one, without word boundaries, reads the runs of single characters.
"""

from __future__ import annotations

import re
import tomllib
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, NamedTuple, cast, get_args

from core.errors import ConfigError
from core.spec import StylePreset
from core.styles import DEFAULT_STYLES

if TYPE_CHECKING:
    from core.spec import RenderSpec

Decision = Literal["allow", "flag", "block"]
Where = Literal["prompt", "negative", "both"]
Field = Literal["prompt", "negative"]

STRENGTH: Mapping[Decision, int] = {"allow": 0, "flag": 1, "block": 2}
# prompt + negative + style suffixes; the flag parser already caps a prompt at 1,500 characters
MAX_CHECKED_CHARS = 8_000
DEFAULT_FILE = "policy_default.toml"
_ID = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
_RULE_KEYS = {"id", "category", "decision", "reason", "where"}
_LIST_KEYS = {"words", "phrases", "regexes", "requires"}
_TOP_KEYS = {"version", "include_default", "exempt", "rules"}

# ---------------------------------------------------------------------------------- folding
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


# ------------------------------------------------------------------------------------ rules
@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    category: str
    decision: Decision
    reason: str = ""
    where: Where = "both"
    words: tuple[str, ...] = ()
    phrases: tuple[str, ...] = ()
    regexes: tuple[str, ...] = ()
    requires: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class PolicyDecision:
    """What the policy decided about a request, and which rule made it decide so."""

    decision: Decision
    rule: str | None = None
    category: str | None = None
    reason: str = ""
    field: Field | None = None  # where the deciding rule matched
    matched: str | None = None  # the normalized words it matched
    normalized: str = ""  # the normalized words of that field (of the prompt when none matched)

    def to_json(self) -> dict[str, str | None]:
        return {
            "decision": self.decision,
            "rule": self.rule,
            "category": self.category,
            "reason": self.reason,
            "field": self.field,
            "matched": self.matched,
            "normalized": self.normalized,
        }


@dataclass(frozen=True, slots=True)
class PolicySize:
    rules: int
    entries: int  # distinct words and phrases, exempt ones included
    regexes: int
    pattern_chars: int  # length of the compiled patterns' source


Token = tuple[str, int]  # a character and the least run of it; " " is an optional word gap
_Node = dict[Token | None, Any]


def _tokens(entry: str) -> tuple[Token, ...]:
    out: list[Token] = []
    for ch in entry:
        if out and out[-1][0] == ch and ch != " ":
            out[-1] = (ch, out[-1][1] + 1)
        else:
            out.append((ch, 1))
    return tuple(out)


def _token_re(token: Token) -> str:
    ch, run = token
    if ch == " ":
        return " ?"
    if ch.isalpha():
        return re.escape(ch) * run + re.escape(ch) + "*"
    return re.escape(ch) * run


def _trie_re(
    node: _Node, leaves: list[tuple[int, ...]], bounded: bool, mark: bool, last: str = ""
) -> str:
    """Alternation of the trie, longer and more specific paths first. Leaves are appended to
    `leaves` in pattern order; with `mark`, each ends in an empty group that says which."""
    alts = []
    for token in sorted((k for k in node if k is not None), key=lambda t: (t[0], -t[1])):
        alts.append(_token_re(token) + _trie_re(node[token], leaves, bounded, mark, token[0]))
    if None in node:
        leaves.append(node[None])
        end = "" if not bounded else "(?!\\d)" if last.isdigit() else "s?(?![^\\W\\d])"
        alts.append(end + ("()" if mark else ""))  # a plural s, then no letter
    return alts[0] if len(alts) == 1 else "(?:" + "|".join(alts) + ")"


@dataclass(frozen=True, slots=True)
class _Compiled:
    """The scanning pattern, and how to tell which rules a match means."""

    scan: re.Pattern[str]  # at each space: a lookahead with one group per regex, one for words
    groups: dict[int, tuple[int, ...] | None]  # scan group -> rule indices; None: the words
    resolve: re.Pattern[str]  # the words again, a group per leaf: which entry matched
    leaves: dict[int, tuple[int, ...]]  # resolve group -> rule indices (none: exempt)
    prefix: str


class Policy:
    """Compiled rules; `check` is thread-safe and never raises on any text."""

    def __init__(
        self,
        rules: Sequence[Rule],
        exempt: Sequence[str] = (),
        *,
        source: str = "<rules>",
        styles: Mapping[str, StylePreset] = DEFAULT_STYLES,
    ) -> None:
        self.rules = tuple(rules)
        self.exempt = tuple(exempt)
        self.styles = styles
        _validate(self.rules, source)
        entries: dict[tuple[Token, ...], set[int]] = {}  # token string -> own rules (-1: exempt)
        texts: dict[tuple[Token, ...], str] = {}
        for index, rule in enumerate(self.rules):
            for kind, items in (("word", rule.words), ("phrase", rule.phrases)):
                for item in items:
                    entry = _entry(item, kind, rule.id, source)
                    entries.setdefault(_tokens(entry), set()).add(index)
                    texts[_tokens(entry)] = entry
        for item in self.exempt:
            entry = _entry(item, "phrase", "exempt", source)
            entries[_tokens(entry)] = {-1}
        # Each rule alone, to learn which other rules a listed entry contains ("nudes" ⊃ "nude").
        alone = [
            _compile({k: {0} for k, v in entries.items() if i in v}, [rule]).scan
            for i, rule in enumerate(self.rules)
        ]
        for key, owners in entries.items():
            if owners != {-1}:
                owners.update(i for i, p in enumerate(alone) if p.search(f" {texts[key]}"))
        self._context = max((key.count((" ", 1)) for key in entries), default=0)
        self._words = _compile(entries, self.rules)
        self._runs = _compile(entries, [], bounded=False)
        self._resolved: dict[tuple[bool, str], tuple[int, ...]] = {}
        self.size = PolicySize(
            rules=len(self.rules),
            entries=len(entries),
            regexes=sum(len(r.regexes) for r in self.rules),
            pattern_chars=len(self._words.scan.pattern) + len(self._runs.scan.pattern),
        )

    @classmethod
    def from_file(cls, path: Path | None = None) -> Policy:
        """The operator's rules file, or the shipped default when `path` is None."""
        if path is None:
            return default_policy()
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"Cannot read the policy file {path}: {exc}.") from None
        return cls.from_toml(text, source=str(path))

    @classmethod
    def from_toml(cls, text: str, *, source: str = "<string>") -> Policy:
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{source}: not valid TOML: {exc}.") from None
        return cls(*_read_rules(data, source), source=source)

    def check(
        self, prompt: str, negative: str = "", style: StylePreset | str | None = None
    ) -> PolicyDecision:
        """Decide on the text the model will see: the prompt plus the style's suffix, and the
        negative prompt plus the style's negative. A style given by name must be one of
        `styles` (KeyError otherwise)."""
        if isinstance(style, str):
            style = self.styles[style]
        if style is not None:
            prompt = ", ".join(p for p in (prompt, style.prompt_suffix) if p)
            negative = ", ".join(p for p in (negative, style.negative) if p)
        if len(prompt) + len(negative) > MAX_CHECKED_CHARS:
            return PolicyDecision(
                "flag",
                rule="length",
                category="length",
                reason="This request is too long to check automatically; a moderator will look.",
                field="prompt",
                normalized=prompt[:200],
            )
        p_norm, p_hits = self._look(prompt)
        n_norm, n_hits = self._look(negative) if negative else ("", {})
        named = {
            name
            for i in p_hits
            if not self.rules[i].requires
            for name in (self.rules[i].id, self.rules[i].category)
        }
        best: tuple[int, int, int] | None = None
        decision = PolicyDecision("allow", normalized=p_norm)
        for field, hits, norm in (("prompt", p_hits, p_norm), ("negative", n_hits, n_norm)):
            for i, matched in hits.items():
                rule = self.rules[i]
                if rule.where not in (field, "both"):
                    continue
                if rule.requires and named.isdisjoint(rule.requires):
                    continue
                key = (STRENGTH[rule.decision], field == "prompt", -i)
                if best is None or key > best:
                    best = key
                    decision = PolicyDecision(
                        rule.decision,
                        rule=rule.id,
                        category=rule.category,
                        reason=rule.reason,
                        field=cast(Field, field),
                        matched=matched,
                        normalized=norm,
                    )
        return decision

    def check_spec(self, spec: RenderSpec) -> PolicyDecision:
        """Decide on a parsed request, style included."""
        return self.check(spec.full_prompt(), spec.full_negative_prompt())

    def _look(self, text: str) -> tuple[str, dict[int, str]]:
        """The normalized words of `text` and, per rule that matched, what it matched."""
        seen = views(text, self._context)
        hits: dict[int, str] = {}
        self._find(self._words, seen.scan, hits, seen)
        for run in seen.runs:
            self._find(self._runs, run, hits, None)
        return seen.normalized, hits

    def _find(
        self, compiled: _Compiled, text: str, hits: dict[int, str], seen: Views | None
    ) -> None:
        exempt_until = -1
        for m in compiled.scan.finditer(text):
            group = m.lastindex or 0
            start, end = m.end(), m.end(group)
            if start < exempt_until:
                continue
            rules = compiled.groups[group]
            if rules is None:
                rules = self._resolve(compiled, text[start:end])
                if not rules:
                    exempt_until = end
                    continue
            if seen is None or start < seen.leet_from or self._has_letter(seen, start, end):
                for i in rules:
                    hits.setdefault(i, text[start:end])

    def _resolve(self, compiled: _Compiled, words: str) -> tuple[int, ...]:
        """The rules meant by the words the trie matched (cached: few distinct words match)."""
        key = (compiled is self._words, words)
        rules = self._resolved.get(key)
        if rules is None:
            m = compiled.resolve.match(compiled.prefix + words)
            rules = compiled.leaves[m.lastindex or 0] if m else ()
            if len(self._resolved) > 10_000:
                self._resolved.clear()
            self._resolved[key] = rules
        return rules

    @staticmethod
    def _has_letter(seen: Views, start: int, end: int) -> bool:
        """Whether a match in a leet view was written with a letter (a bare 7175 is a number)."""
        offset = (start - seen.leet_from) // (len(seen.leet_source) + 2) * (
            len(seen.leet_source) + 2
        ) + seen.leet_from
        return _LETTER.search(seen.leet_source, start - offset, end - offset) is not None


@cache
def default_policy() -> Policy:
    """The shipped rules, compiled once per process."""
    text = resources.files("core").joinpath(DEFAULT_FILE).read_text(encoding="utf-8")
    return Policy.from_toml(text, source=f"bot/{DEFAULT_FILE}")


def _compile(
    entries: Mapping[tuple[Token, ...], set[int]],
    rules: Sequence[Rule],
    *,
    bounded: bool = True,
) -> _Compiled:
    """One pattern: a space, then in a lookahead the first of the block rules' regexes, the
    words' trie (longest first) and the other regexes; each alternative is a group, so
    `lastindex` names what matched. The trie has one group only (hundreds of groups make every
    match slow); which entry it matched is resolved afterwards, on the matched words alone.
    """
    trie: _Node = {}
    for key, owners in entries.items():
        node = trie
        for token in key:
            node = node.setdefault(token, {})
        node[None] = tuple(sorted(i for i in owners if i >= 0))
    groups: dict[int, tuple[int, ...] | None] = {}
    alts: list[str] = []
    for first in (True, False):
        for i, rule in enumerate(rules):
            if (rule.decision == "block") is first:
                for regex in rule.regexes:
                    alts.append(f"(?:{regex})()")
                    groups[len(groups) + 1] = (i,)
        if first and trie:
            alts.append(f"({_trie_re(trie, [], bounded, mark=False)})")
            groups[len(groups) + 1] = None
    prefix = " " if bounded else ""
    leaves: list[tuple[int, ...]] = []
    resolve = prefix + (_trie_re(trie, leaves, bounded, mark=True) if trie else "(?!)")
    return _Compiled(
        scan=re.compile(prefix + (f"(?={'|'.join(alts)})" if alts else "(?!)")),
        groups=groups,
        resolve=re.compile(resolve),
        leaves=dict(enumerate(leaves, start=1)),
        prefix=prefix,
    )


def _entry(item: str, kind: str, rule_id: str, source: str) -> str:
    entry = _squeeze(_MIXED.sub(_leet_i, fold(item)).translate(_SPACED))
    if not entry:
        raise ConfigError(f"{source}: rule {rule_id!r}: {kind} {item!r} has no letters or digits.")
    if kind == "word" and " " in entry:
        raise ConfigError(
            f"{source}: rule {rule_id!r}: word {item!r} reads as several words ({entry!r}); "
            "list it under phrases."
        )
    return entry


def _validate(rules: Sequence[Rule], source: str) -> None:
    seen: set[str] = set()
    for rule in rules:
        where = f"{source}: rule {rule.id!r}"
        if not _ID.match(rule.id):
            raise ConfigError(f"{where}: id must be lowercase letters, digits, '.', '_' or '-'.")
        if rule.id in seen:
            raise ConfigError(f"{where}: the id is used by an earlier rule too.")
        seen.add(rule.id)
        if not _ID.match(rule.category):
            raise ConfigError(f"{where}: category {rule.category!r} must look like an id.")
        if rule.decision not in STRENGTH:
            raise ConfigError(f"{where}: decision must be allow, flag or block.")
        if rule.where not in get_args(Where):
            raise ConfigError(f"{where}: where must be prompt, negative or both.")
        if rule.decision != "allow" and not rule.reason.strip():
            raise ConfigError(f"{where}: a {rule.decision} rule needs a reason for the member.")
        if not (rule.words or rule.phrases or rule.regexes):
            raise ConfigError(f"{where}: has no words, phrases or regexes.")
        for regex in rule.regexes:
            try:
                compiled = re.compile(f"(?:{regex})")
            except re.error as exc:
                raise ConfigError(f"{where}: regex {regex!r} does not compile: {exc}.") from None
            if compiled.groups:
                raise ConfigError(f"{where}: regex {regex!r}: write (?:...) instead of (...).")
    plain = {name for r in rules if not r.requires for name in (r.id, r.category)}
    for rule in rules:
        for name in rule.requires:
            if name not in plain:
                raise ConfigError(
                    f"{source}: rule {rule.id!r}: requires {name!r}, which names no rule id or "
                    "category (of a rule without requires of its own)."
                )


def _read_rules(data: dict[str, Any], source: str) -> tuple[list[Rule], list[str]]:
    unknown = set(data) - _TOP_KEYS
    if unknown:
        raise ConfigError(f"{source}: unknown key(s) {', '.join(sorted(unknown))}.")
    if data.get("version", 1) != 1:
        raise ConfigError(f"{source}: version must be 1.")
    exempt = _strings(data.get("exempt", []), f"{source}: exempt")
    rules: list[Rule] = []
    if data.get("include_default", False) is True:
        base = default_policy()
        rules, exempt = list(base.rules), [*base.exempt, *exempt]
    elif data.get("include_default", False) is not False:
        raise ConfigError(f"{source}: include_default must be true or false.")
    raw = data.get("rules", [])
    if not isinstance(raw, list) or not all(isinstance(r, dict) for r in raw):
        raise ConfigError(f"{source}: rules must be [[rules]] tables.")
    own: set[str] = set()
    for n, table in enumerate(raw):
        rule_id = table.get("id")
        named = isinstance(rule_id, str)
        where = f"{source}: rule {rule_id!r}" if named else f"{source}: rules[{n}]"
        unknown = set(table) - _RULE_KEYS - _LIST_KEYS
        if unknown:
            raise ConfigError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}.")
        for key in ("id", "category", "decision"):
            if not isinstance(table.get(key), str):
                raise ConfigError(f"{where}: {key} is missing or not a string.")
        for key in ("reason", "where"):
            if key in table and not isinstance(table[key], str):
                raise ConfigError(f"{where}: {key} must be a string.")
        lists = {k: tuple(_strings(table.get(k, []), f"{where}: {k}")) for k in _LIST_KEYS}
        rule = Rule(
            id=table["id"],
            category=table["category"],
            decision=table["decision"],
            reason=table.get("reason", ""),
            where=table.get("where", "both"),
            **lists,
        )
        if rule.id in own:
            raise ConfigError(f"{where}: the id is used by an earlier rule too.")
        own.add(rule.id)
        rules = [r for r in rules if r.id != rule.id]  # an operator's rule replaces a shipped one
        rules.append(rule)
    return rules, exempt


def _strings(value: object, where: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where} must be a list of strings.")
    return list(value)
