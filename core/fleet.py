"""Which model family makes a request, in a fleet that runs several (pure; `intake.fleet` asks).

A front end has a main family (its REELBOT_BACKEND); the workers announce theirs with the modes
each renders (`jobs.fleet`). The main family makes whatever it can, so a single-family
deployment behaves as it always did; a mode it lacks (an edit on an ltx main) goes to the
family with most live workers that offers it.
"""

from __future__ import annotations

from collections.abc import Mapping

from core.spec import Mode

__all__ = ["choose_family"]


def choose_family(
    mode: Mode | str,
    *,
    main: str,
    offered: Mapping[str, tuple[Mode | str, ...]],
    live: Mapping[str, int] | None = None,
) -> str | None:
    """The family to render a `mode` request, or None when no family offers it.

    `offered`: the modes of each family live now or seen lately; `live`: live workers per
    family. The main family when it offers the mode, or when nothing at all is known (no
    worker ever seen: the job waits for one, as before fleets); else the family offering it
    with most live workers, ties by name; else None.
    """
    if not offered or mode in offered.get(main, ()):
        return main
    workers = live or {}
    able = [f for f, modes in offered.items() if mode in modes]
    if not able:
        return None
    return min(able, key=lambda f: (-workers.get(f, 0), f))
