"""The prompt policy's rule file: what a rule is, the TOML it is written in, and its checks.

A policy file (the shipped `core/policy_default.toml`, or the operator's `REELBOT_POLICY_FILE`)
holds `[[rules]]` tables, each with an id, a category, a decision (allow, flag or block), a
member-facing reason, where it applies (prompt, negative or both) and its words, phrases and
regexes; `requires` names rules (by id or category) that must also match the prompt, and
top-level `exempt` phrases hide the words inside them. `include_default = true` starts from the
shipped rules; a rule with a shipped rule's id replaces it. Every mistake is a `ConfigError` that
names the file and the rule.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any, Literal, get_args

from core.errors import ConfigError
from core.policytext import entry_text

__all__ = [
    "DEFAULT_FILE",
    "STRENGTH",
    "Decision",
    "Rule",
    "Where",
    "check_entry",
    "check_rules",
    "default_rules",
    "rules_from_toml",
]

Decision = Literal["allow", "flag", "block"]
Where = Literal["prompt", "negative", "both"]

STRENGTH: Mapping[Decision, int] = {"allow": 0, "flag": 1, "block": 2}
DEFAULT_FILE = "policy_default.toml"
_ID = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
_RULE_KEYS = {"id", "category", "decision", "reason", "where"}
_LIST_KEYS = {"words", "phrases", "regexes", "requires"}
_TOP_KEYS = {"version", "include_default", "exempt", "rules"}


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


@cache
def default_rules() -> tuple[tuple[Rule, ...], tuple[str, ...]]:
    """The shipped rules and exempt phrases, read once per process."""
    text = resources.files("core").joinpath(DEFAULT_FILE).read_text(encoding="utf-8")
    rules, exempt = rules_from_toml(text, source=f"bot/{DEFAULT_FILE}")
    return tuple(rules), tuple(exempt)


def rules_from_toml(text: str, *, source: str = "<string>") -> tuple[list[Rule], list[str]]:
    """The rules and exempt phrases of a policy file's text; ConfigError names what is wrong."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}.") from None
    return _read_rules(data, source)


def check_entry(item: str, kind: str, rule_id: str, source: str) -> str:
    """A listed word or phrase as it will be matched (see `entry_text`), or ConfigError."""
    entry = entry_text(item)
    if not entry:
        raise ConfigError(f"{source}: rule {rule_id!r}: {kind} {item!r} has no letters or digits.")
    if kind == "word" and " " in entry:
        raise ConfigError(
            f"{source}: rule {rule_id!r}: word {item!r} reads as several words ({entry!r}); "
            "list it under phrases."
        )
    return entry


def check_rules(rules: Sequence[Rule], source: str) -> None:
    """Raise ConfigError for the first rule a policy cannot be built from."""
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
        base_rules, base_exempt = default_rules()
        rules, exempt = list(base_rules), [*base_exempt, *exempt]
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
