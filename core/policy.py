"""The prompt policy: allow a request, hold it for moderator review (flag), or refuse it (block).

Pure: no discord, redis, torch or database. A policy is a list of rules read from TOML (the
shipped `core/policy_default.toml` unless the operator sets `REELBOT_POLICY_FILE`; the format is
`core.policyrules`'s); each rule has an id, a category, a decision, a member-facing reason and
words, phrases and regexes. Text is read as `core.policytext` reads it (folded, leetspeak and
spacing undone, in views), then:

1. Words and phrases match whole words, plus a plural `s`; each letter of a listed word matches a
   run of that letter (`nude` matches `nuuuude`; `boobs` needs two `o`s, so `bobs` passes); the
   spaces of a phrase may be left out (`childporn`). Regexes are tried at the start of every word
   of the views (lowercase, one space between words). At a word start the first of these that
   matches counts: block rules' regexes, then words and phrases (longest first), then the other
   regexes. A listed phrase also counts for every listed word or phrase inside it.
2. The strongest decision of the rules that matched wins (block > flag > allow), the earlier rule
   on a tie, the prompt before the negative prompt. A rule with `requires` only counts when the
   positive prompt also matched a rule (by id or category) named there, so "child" alone is fine
   and "child" next to a sexual term is blocked. `exempt` phrases hide the words inside them.

All words, phrases and regexes compile into one pattern, tried at each space of the views; a
second one, without word boundaries, reads the runs of single characters.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast

from core.errors import ConfigError
from core.policyrules import (
    DEFAULT_FILE,
    STRENGTH,
    Decision,
    Rule,
    Where,
    check_entry,
    check_rules,
    default_rules,
    rules_from_toml,
)
from core.policytext import Views, fold, views, words_of
from core.spec import StylePreset
from core.styles import DEFAULT_STYLES

if TYPE_CHECKING:
    from core.spec import RenderSpec

# What callers import from here; the text reading and the rule format live beside it.
__all__ = [
    "DEFAULT_FILE",
    "MAX_CHECKED_CHARS",
    "STRENGTH",
    "Decision",
    "Field",
    "Policy",
    "PolicyDecision",
    "PolicySize",
    "Rule",
    "Views",
    "Where",
    "default_policy",
    "fold",
    "views",
    "words_of",
]

Field = Literal["prompt", "negative"]

# prompt + negative + style suffixes; the flag parser already caps a prompt at 1,500 characters
MAX_CHECKED_CHARS = 8_000


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
        check_rules(self.rules, source)
        entries: dict[tuple[Token, ...], set[int]] = {}  # token string -> own rules (-1: exempt)
        texts: dict[tuple[Token, ...], str] = {}
        for index, rule in enumerate(self.rules):
            for kind, items in (("word", rule.words), ("phrase", rule.phrases)):
                for item in items:
                    entry = check_entry(item, kind, rule.id, source)
                    entries.setdefault(_tokens(entry), set()).add(index)
                    texts[_tokens(entry)] = entry
        for item in self.exempt:
            entry = check_entry(item, "phrase", "exempt", source)
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
        """A policy from a rules file's text; ConfigError names what is wrong and where."""
        return cls(*rules_from_toml(text, source=source), source=source)

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
            if seen is None or start < seen.leet_from or seen.has_letter(start, end):
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


@cache
def default_policy() -> Policy:
    """The shipped rules, compiled once per process."""
    rules, exempt = default_rules()
    return Policy(rules, exempt, source=f"bot/{DEFAULT_FILE}")


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
