"""Which model family makes a request, in a fleet that runs several (pure; `intake.fleet` asks).

A front end has a main family (its REELBOT_BACKEND); the workers announce theirs with the modes
each renders (`jobs.fleet`). The main family makes whatever it can, so a single-family
deployment behaves as it always did; a mode it lacks (an edit on an ltx main) goes to the
family with most live workers that offers it.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping

from core.spec import Mode, RenderSpec

__all__ = ["EXTRAS", "MAX_WORKERS", "choose_family", "extras_needed", "lacks", "parse_workers"]

MAX_WORKERS = 64  # local workers one `reelbot up` may start
# What a worker makes beside its modes, each from a model of its own that an operator may turn
# off: "sound" (REELBOT_SOUND_MODEL: -sound without joint audio, 🔊 Add sound, a story's track)
# and "voice" (REELBOT_TTS_MODEL: /speak's typed line). A worker announces those it has; one
# that announces none of this (from before extras were announced) counts as having them all.
EXTRAS = ("sound", "voice")
_FAMILY = re.compile(r"^[a-z0-9_][a-z0-9_.-]{0,99}$")  # a built-in family or a module path


def choose_family(
    mode: Mode | str,
    *,
    main: str,
    offered: Mapping[str, tuple[Mode | str, ...]],
    live: Mapping[str, int] | None = None,
    main_modes: Collection[Mode | str] = (),
) -> str | None:
    """The family to render a `mode` request, or None when no family offers it.

    `offered`: the modes of each family live now or seen lately; `live`: live workers per
    family. The main family when it offers the mode, or when nothing at all is known (no
    worker ever seen: the job waits for one, as before fleets); else the family offering it
    with most live workers, ties by name; else None. `main_modes`: what the main family makes
    by its capabilities, which count before any of its workers announced them, so a fleet
    whose editor beat first still takes /create while the main worker loads.
    """
    if not offered or mode in offered.get(main, ()) or (main not in offered and mode in main_modes):
        return main
    workers = live or {}
    able = [f for f, modes in offered.items() if mode in modes]
    if not able:
        return None
    return min(able, key=lambda f: (-workers.get(f, 0), f))


def parse_workers(value: int | str, backend: str) -> tuple[tuple[str, int], ...]:
    """REELBOT_WORKERS as (family, count) pairs: a count of `backend`'s workers ("2"), or
    family:count pairs ("ltx:1,wan_vace:1"); a ValueError that shows the expected shape."""
    text = str(value).strip()
    shape = "a count (2) or family:count pairs (ltx:1,wan_vace:1)"
    if text.isdigit():
        pairs = [(backend, int(text))]
    else:
        pairs = []
        for part in text.split(","):
            family, sep, count = (p.strip() for p in part.strip().partition(":"))
            if not sep or not _FAMILY.match(family) or not count.isdigit():
                raise ValueError(f"{part.strip()!r} is not family:count; write {shape}")
            pairs.append((family, int(count)))
    if sum(n for _, n in pairs) > MAX_WORKERS:
        raise ValueError(f"at most {MAX_WORKERS} workers in all; write {shape}")
    merged: dict[str, int] = {}
    for name, n in pairs:
        merged[name] = merged.get(name, 0) + n
    return tuple((f, n) for f, n in merged.items() if n > 0)


def extras_needed(spec: RenderSpec, *, joint_audio: bool) -> tuple[str, ...]:
    """The EXTRAS a worker needs to render `spec` (as `worker.render` and `worker.speak` use
    them): its sound model for Add sound, a story's -sound, and a -sound its family can't make
    with the picture (`joint_audio`: `Capabilities.sound`); its text-to-speech for a typed
    line to speak."""
    needed = []
    if spec.mode == "sound" or (spec.sound and (spec.mode == "story" or not joint_audio)):
        needed.append("sound")
    if spec.speak_text.strip():  # whatever speaks it: a picture (/speak) or a clip
        needed.append("voice")
    return tuple(needed)


def lacks(extra: str, family: str, extras: Mapping[str, Collection[str]]) -> bool:
    """Whether `family`'s workers said they can't make `extra` (`extras`: what each family's
    live, else latest, workers announced). A family that said nothing makes it."""
    return family in extras and extra not in extras[family]
