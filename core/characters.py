"""Saved characters' names and `-ref`: what a name may be, and who can render a reference.

A character is a member's picture kept under a short name (`/character save`); `-ref NAME` on
`/create` makes it appear in the clip, on families whose `Capabilities.references` is above 0.
The rules live here, pure, so the flag reader, the gallery's store and the front ends agree on
what a name is and on the words of a refusal.
"""

from __future__ import annotations

import re

from core.capabilities import families_with
from core.errors import FlagError
from core.rendercaps import Capabilities
from core.spec import MAX_REFERENCES

MAX_NAME_CHARS = 32
MAX_CHARACTERS = 25  # per member (server-wide ones count for nobody)
NAME_RULE = (
    f"up to {MAX_NAME_CHARS} letters, digits, spaces, - or _, starting with a letter or digit"
)
_NAME = re.compile(r"[^\W_][\w\- ]*", re.UNICODE)


def name_problem(name: str) -> str | None:
    """Why `name` can't be a character's name, or None when it can."""
    if not name:
        return "a character needs a name"
    if len(name) > MAX_NAME_CHARS:
        return f"`{name[:40]}` is {len(name)} characters long; a name is {NAME_RULE}"
    if _NAME.fullmatch(name) is None or name != name.strip() or "  " in name:
        return f"`{name}` isn't a name I can keep: a name is {NAME_RULE}"
    return None


def name_key(name: str) -> str:
    """The name as compared: `Mira`, `mira` and `MIRA` are one character."""
    return name.casefold()


def read_references(shown: str, value: str, given: tuple[str, ...] = ()) -> tuple[str, ...]:
    """`-ref` names (comma separated) added to those `given` by an earlier `-ref`; FlagError
    naming the token for a bad name, a name given twice, or more than MAX_REFERENCES."""
    names = list(given)
    for part in value.split(","):
        name = part.strip()
        if (problem := name_problem(name)) is not None:
            raise FlagError(f"`{shown}`: {problem}.", token=shown, allowed=REF_ALLOWED)
        if name_key(name) in {name_key(n) for n in names}:
            raise FlagError(
                f"`{shown}`: `{name}` is given twice; name each character once.",
                token=shown,
                allowed=REF_ALLOWED,
            )
        names.append(name)
    if len(names) > MAX_REFERENCES:
        raise FlagError(
            f"`{shown}`: {len(names)} characters; a clip can show at most {MAX_REFERENCES}.",
            token=shown,
            allowed=REF_ALLOWED,
        )
    return tuple(names)


REF_ALLOWED = (
    f"up to {MAX_REFERENCES} saved characters' names (/character save), like -ref Mira or "
    "-ref Mira, Old Tom"
)


def references_refused(capabilities: Capabilities, count: int, token: str = "-ref") -> None:
    """FlagError where `capabilities` takes fewer than `count` reference pictures, naming the
    families that take them, so the member knows it is this server's model, not their ask."""
    if count <= capabilities.references:
        return
    takers = families_with("references")
    which = ", ".join(takers) if takers else "none of the built-in models yet"
    if capabilities.references:
        raise FlagError(
            f"`{token}`: the model loaded right now (`{capabilities.name}`) takes at most "
            f"{capabilities.references} reference pictures; you gave {count}.",
            token=token,
        )
    raise FlagError(
        f"`{token}` needs a model that takes reference pictures ({which}); this server's "
        f"model ({capabilities.name}) doesn't.",
        token=token,
    )
