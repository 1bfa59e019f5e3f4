"""`reelbot verify`'s reading of a stranger's file: in the bounded child, and the watermark's
vote taken over at most VERIFY_FRAMES frames, so a long file costs no more than our longest
clip."""

from __future__ import annotations

from pathlib import Path

from tests.harness.bombs import repeated_frame
from worker.media_sandbox import VERIFY_FRAMES, read_provenance


def test_the_watermark_vote_reads_at_most_verify_frames(tmp_path: Path) -> None:
    long = repeated_frame(tmp_path / "long.mp4", (256, 256), fps=24, frames=VERIFY_FRAMES + 100)
    tags, reading = read_provenance(long)
    assert reading is not None and reading.frames == VERIFY_FRAMES
    assert reading.generation_id_prefix is None  # grey frames carry no id
    assert "encoder" in tags
