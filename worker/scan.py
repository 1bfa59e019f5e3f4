"""Output scanning: what a finished clip shows, scored before anyone sees it.

Word lists only read the prompt; a harmless prompt can still render something a community does
not want. So the worker samples frames of every clip (the first, the last and `count` evenly
spaced between), scores them with the configured frame classifiers
(`worker.frame_classifiers`), and decides per category with the operator's thresholds:

    score ≥ block threshold → "block"  (never written or posted, moderators told)
    score ≥ hold threshold  → "hold"   (posted to moderators as a contact sheet; Approve posts it)
    otherwise               → "allow"

The categories are the classifiers' own (`nudity`, `suggestive` from NudeNet; `nudity`, `minor`,
`violence` from the CLIP zero-shot checker) plus `minor_nudity`, the lower of `minor` and
`nudity` in the same frame, which exists only when both are scored. A channel marked NSFW may
waive holds for some categories (`skip`), never for a category about minors, and never a block
(and `worker.output_check` honours waivers only where a loaded classifier scores minors).

Pure numpy and pydantic: no torch, no onnxruntime; the classifiers load those themselves.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Mapping, Sequence
from typing import Literal, Protocol

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

ScanDecision = Literal["allow", "hold", "block"]
STRENGTH: Mapping[ScanDecision, int] = {"allow": 0, "hold": 1, "block": 2}
DEFAULT_SAMPLES = 6
# A category is about minors when it starts so: no NSFW channel can waive it.
MINOR_PREFIX = "minor"
# Derived categories: name → the two categories whose lower score it takes, per frame.
DERIVED: Mapping[str, tuple[str, str]] = {"minor_nudity": ("minor", "nudity")}
DEFAULT_HOLD: Mapping[str, float] = {"nudity": 0.5, "violence": 0.7}
DEFAULT_BLOCK: Mapping[str, float] = {"minor_nudity": 0.3}


class FrameClassifier(Protocol):
    """Scores RGB frames in [0, 1] per category; the higher, the likelier."""

    name: str
    categories: tuple[str, ...]

    def score(self, frames: Sequence[np.ndarray]) -> list[dict[str, float]]:
        """One mapping of category → score per frame (uint8 RGB, height × width × 3)."""
        ...


class FrameScore(BaseModel):
    model_config = ConfigDict(frozen=True)

    index: int
    seconds: float
    scores: dict[str, float]


class ScanReport(BaseModel):
    """A clip's scan, as `reelbot scan` prints it and as moderators see it."""

    model_config = ConfigDict(frozen=True)

    decision: ScanDecision
    reasons: list[str] = Field(default_factory=list)
    highest: dict[str, float] = Field(default_factory=dict)
    frames: list[FrameScore] = Field(default_factory=list)
    classifiers: list[str] = Field(default_factory=list)
    seconds: float = 0.0

    def summary(self) -> str:
        """One line for a moderator: the decision and why."""
        if not self.reasons:
            return f"{self.decision}: nothing over a threshold"
        return f"{self.decision}: " + "; ".join(self.reasons)


def sample_indices(total: int, count: int = DEFAULT_SAMPLES) -> list[int]:
    """The first and last frame and `count` evenly spaced between them, without repeats."""
    if total <= 0:
        return []
    inner = [round((i + 1) * (total - 1) / (count + 1)) for i in range(max(0, count))]
    return sorted({0, total - 1, *inner})


def with_derived(scores: Mapping[str, float]) -> dict[str, float]:
    """A frame's scores plus the derived categories whose parts were both scored."""
    out = dict(scores)
    for name, (a, b) in DERIVED.items():
        if a in scores and b in scores:
            out[name] = min(scores[a], scores[b])
    return out


def scored_categories(classifiers: Sequence[FrameClassifier]) -> set[str]:
    """What these classifiers score, derived categories included."""
    found = {c for classifier in classifiers for c in classifier.categories}
    return found | {name for name, parts in DERIVED.items() if set(parts) <= found}


def waivable(category: str) -> bool:
    """Whether an NSFW channel may skip the hold for this category (never anything minor)."""
    parts = {category, *DERIVED.get(category, ())}
    return not any(part.startswith(MINOR_PREFIX) for part in parts)


def decide(
    frames: Sequence[FrameScore],
    *,
    hold: Mapping[str, float],
    block: Mapping[str, float],
    skip: Collection[str] = (),
) -> tuple[ScanDecision, list[str], dict[str, float]]:
    """The decision, its reasons (strongest first) and each category's highest score."""
    highest: dict[str, float] = {}
    where: dict[str, FrameScore] = {}
    for frame in frames:
        for category, value in frame.scores.items():
            if value > highest.get(category, -1.0):
                highest[category], where[category] = value, frame
    found: list[tuple[ScanDecision, str]] = []
    for category, value in highest.items():
        at = where[category]
        spot = f"frame {at.index}, {at.seconds:.1f} s"
        if category in block and value >= block[category]:
            found.append(("block", f"{category} {value:.2f} ≥ {block[category]:.2f} ({spot})"))
        elif category in hold and value >= hold[category]:
            if category in skip and waivable(category):
                continue
            found.append(("hold", f"{category} {value:.2f} ≥ {hold[category]:.2f} ({spot})"))
    found.sort(key=lambda item: -STRENGTH[item[0]])
    decision: ScanDecision = found[0][0] if found else "allow"
    return decision, [reason for _, reason in found], highest


def scan_frames(
    classifiers: Sequence[FrameClassifier],
    frames: np.ndarray | Mapping[int, np.ndarray],
    fps: float,
    *,
    hold: Mapping[str, float] = DEFAULT_HOLD,
    block: Mapping[str, float] = DEFAULT_BLOCK,
    skip: Collection[str] = (),
    samples: int = DEFAULT_SAMPLES,
    total: int | None = None,
) -> ScanReport:
    """Sample, score with every classifier (a category two score takes the higher) and decide.

    `frames` is the whole clip, or (with `total`, the clip's frame count) only the frames
    `sample_indices(total, samples)` names, by index. Blocking (the classifiers run here); no
    classifier at all means "allow"."""
    started = time.perf_counter()
    count = len(frames) if total is None else total
    indices = sample_indices(count, samples) if classifiers else []
    picked = [frames[i] for i in indices]
    merged: list[dict[str, float]] = [{} for _ in picked]
    for classifier in classifiers:
        for mine, theirs in zip(merged, classifier.score(picked), strict=True):
            for category, value in theirs.items():
                mine[category] = max(mine.get(category, 0.0), float(value))
    scored = [
        FrameScore(
            index=i,
            seconds=round(i / fps, 3) if fps > 0 else 0.0,
            scores={k: round(v, 4) for k, v in with_derived(s).items()},
        )
        for i, s in zip(indices, merged, strict=True)
    ]
    decision, reasons, highest = decide(scored, hold=hold, block=block, skip=skip)
    return ScanReport(
        decision=decision,
        reasons=reasons,
        highest=highest,
        frames=scored,
        classifiers=[c.name for c in classifiers],
        seconds=round(time.perf_counter() - started, 4),
    )
