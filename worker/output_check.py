"""The output scan as a worker runs it: classifiers loaded once, every clip checked before it
is encoded, and clips already made checked again when members report them.

What a decision does is in `worker.render` (and `worker.announce`): "block" fails the clip
without writing a file, "hold" stores it as held (hidden everywhere) with a contact sheet for
the moderators.
"""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Collection, Mapping
from pathlib import Path

import numpy as np

from worker.contact_sheet import contact_sheet
from worker.frame_classifiers import load_classifiers
from worker.media_decode import count_frames as count_frames  # re-exported: tests read clips
from worker.media_decode import decode_frames as decode_frames
from worker.media_sandbox import scan_samples
from worker.scan import (
    FrameClassifier,
    FrameScore,
    ScanReport,
    sample_indices,
    scan_frames,
    scored_categories,
)
from worker.settings import WorkerConfig

log = logging.getLogger(__name__)


def classifier_names(setting: str, clip_model: str | None) -> list[str]:
    """REELBOT_SCAN_CLASSIFIERS read: "auto" is nudenet where the `nsfw` extra is installed,
    plus clip where a CLIP model is configured."""
    names = [part.strip().lower() for part in setting.split(",") if part.strip()]
    if names != ["auto"]:
        return names
    found = ["nudenet"] if importlib.util.find_spec("nudenet") is not None else []
    return found + (["clip"] if clip_model else [])


class OutputCheck:
    """The loaded classifiers and the operator's thresholds."""

    def __init__(
        self,
        classifiers: list[FrameClassifier],
        *,
        hold: dict[str, float],
        block: dict[str, float],
        samples: int,
    ) -> None:
        self.classifiers = classifiers
        self.hold = hold
        self.block = block
        self.samples = samples
        self.scored = scored_categories(classifiers)
        # Waiving the nudity hold in NSFW channels is only safe where minors are looked for.
        self.sees_minors = "minor" in self.scored

    @classmethod
    def from_config(cls, config: WorkerConfig) -> OutputCheck:
        """Blocking: loads the models (an unknown or missing classifier stops the worker)."""
        names = classifier_names(config.scan_classifiers, config.scan_clip_model)
        classifiers = load_classifiers(
            names, clip_model=config.scan_clip_model, device=config.device
        )
        log.info("output scan: %s", ", ".join(c.name for c in classifiers) or "off")
        check = cls(
            classifiers, hold=config.scan_hold, block=config.scan_block, samples=config.scan_samples
        )
        if check.enabled:
            for name in sorted((set(check.hold) | set(check.block)) - check.scored):
                log.warning(
                    "output scan: no loaded classifier scores %r, so its threshold never applies "
                    "(the clip classifier scores minor, violence and minor_nudity)",
                    name,
                )
            if not check.sees_minors:
                log.warning(
                    "output scan: nothing looks for minors (no clip classifier), so NSFW "
                    "channels' waivers are ignored"
                )
        return check

    @property
    def enabled(self) -> bool:
        return bool(self.classifiers)

    def scan(
        self,
        frames: np.ndarray | Mapping[int, np.ndarray],
        fps: float,
        skip: Collection[str] = (),
        *,
        total: int | None = None,
    ) -> ScanReport:
        """Blocking. A classifier that fails holds the clip for a moderator (its frames still
        make a contact sheet): an unchecked clip is never posted, and nothing is lost."""
        count = len(frames) if total is None else total
        try:
            return scan_frames(
                self.classifiers,
                frames,
                fps,
                hold=self.hold,
                block=self.block,
                skip=skip if self.sees_minors else (),
                samples=self.samples,
                total=total,
            )
        except Exception as exc:
            log.exception("output scan failed; holding the clip for a moderator")
            unscored = [
                FrameScore(index=i, seconds=round(i / fps, 3) if fps > 0 else 0.0, scores={})
                for i in sample_indices(count, self.samples)
            ]
            return ScanReport(
                decision="hold",
                reasons=[f"the scan itself failed ({type(exc).__name__}), so nobody checked it"],
                frames=unscored,
                classifiers=[c.name for c in self.classifiers],
            )

    def scan_file(
        self, path: Path, skip: Collection[str] = ()
    ) -> tuple[ScanReport, dict[int, np.ndarray]]:
        """A stored clip scanned (reports, `reelbot scan`): decoded in a bounded child
        (`worker.media_sandbox`: a file given to `reelbot scan` is untrusted), only the sampled
        frames kept, so a long clip costs no more memory than a short one. Blocking; the
        UnreadableVideo family for a file that is no video we read or is over its budget."""
        total, fps, frames = scan_samples(path, self.samples)
        return self.scan(frames, fps, skip, total=total), frames


def sheet_png(frames: np.ndarray | Mapping[int, np.ndarray], report: ScanReport) -> bytes:
    return contact_sheet(frames, report.frames)
