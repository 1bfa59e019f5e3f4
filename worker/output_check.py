"""The output scan as a worker runs it: classifiers loaded once, every clip checked before it
is encoded, and clips already made checked again when members report them.

What a decision does is in `worker.tasks`: "block" fails the clip without writing a file,
"hold" stores it as held (hidden everywhere) with a contact sheet for the moderators.
"""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Collection
from pathlib import Path

import numpy as np

from worker.contact_sheet import contact_sheet
from worker.frame_classifiers import load_classifiers
from worker.scan import FrameClassifier, ScanReport, scan_frames
from worker.settings import WorkerConfig

log = logging.getLogger(__name__)

# What the member reads when their finished clip is blocked (never the scores: those are for
# moderators, and would teach someone how to get under the threshold).
BLOCKED_MESSAGE = "the finished clip didn't pass this server's content check, so it was not posted"


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

    @classmethod
    def from_config(cls, config: WorkerConfig) -> OutputCheck:
        """Blocking: loads the models (an unknown or missing classifier stops the worker)."""
        names = classifier_names(config.scan_classifiers, config.scan_clip_model)
        classifiers = load_classifiers(
            names, clip_model=config.scan_clip_model, device=config.device
        )
        log.info("output scan: %s", ", ".join(c.name for c in classifiers) or "off")
        return cls(
            classifiers, hold=config.scan_hold, block=config.scan_block, samples=config.scan_samples
        )

    @property
    def enabled(self) -> bool:
        return bool(self.classifiers)

    def scan(self, frames: np.ndarray, fps: float, skip: Collection[str] = ()) -> ScanReport:
        """Blocking."""
        return scan_frames(
            self.classifiers,
            frames,
            fps,
            hold=self.hold,
            block=self.block,
            skip=skip,
            samples=self.samples,
        )

    def scan_file(self, path: Path) -> tuple[ScanReport, np.ndarray]:
        """A stored clip decoded and scanned (reports, `reelbot scan`); blocking."""
        frames, fps = decode_frames(path)
        return self.scan(frames, fps), frames


def sheet_png(frames: np.ndarray, report: ScanReport) -> bytes:
    return contact_sheet(frames, report.frames)


def decode_frames(path: Path, *, max_frames: int = 24 * 60) -> tuple[np.ndarray, float]:
    """Every frame of a video as uint8 RGB, and its frame rate (PyAV)."""
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        fps = float(stream.average_rate or 24)
        frames = []
        for frame in container.decode(stream):
            frames.append(frame.to_ndarray(format="rgb24"))
            if len(frames) >= max_frames:
                break
    if not frames:
        raise ValueError(f"{path.name} has no video frames")
    return np.stack(frames), fps
