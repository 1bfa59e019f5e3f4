"""Clips whose origin is known, for the commands that tell ours from others' (`reelbot verify`,
`reelbot scan`): one of ours with its tags and watermark, a stranger's lossy copy of it, one
without our marks, and a file that is no video."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.spec import RenderJob, RenderSpec
from tests.harness.video import reencode
from worker.backends import load_backend
from worker.backends.tiny import CAPABILITIES
from worker.encode import encode_mp4
from worker.provenance import clip_provenance
from worker.settings import WorkerConfig
from worker.watermark import embed_watermark

GID = "3f2a9c0e5b7d41e8a6c2f0b9d8e7a6c5"


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """ "ours", "stripped", "plain" and "garbage": paths to the four files, made once a module."""
    width, height = CAPABILITIES.snap_size(16, 9)
    spec = RenderSpec(
        prompt="a lighthouse in a storm",
        aspect_ratio="16:9",
        width=width,
        height=height,
        num_frames=48,
        steps=CAPABILITIES.default_steps,
        seed=7,
    )
    rendered = load_backend("tiny", device="cpu").render(spec, lambda step, total: None)
    folder = tmp_path_factory.mktemp("verify")
    tags = clip_provenance(RenderJob(generation_id=GID, spec=spec), WorkerConfig()).tags()
    ours = encode_mp4(
        embed_watermark(rendered.frames, GID),
        rendered.fps,
        folder / "ours.mp4",
        fps=24,
        num_frames=48,
        metadata=tags,
    ).path
    stripped = folder / "stripped.mp4"
    reencode(ours, stripped, ours.stat().st_size * 8 // 4)  # half the bit rate of a 2 s clip
    plain = encode_mp4(rendered.frames, rendered.fps, folder / "plain.mp4", fps=24, num_frames=48)
    garbage = folder / "garbage.mp4"
    garbage.write_bytes(ours.read_bytes()[:1500])
    return {"ours": ours, "stripped": stripped, "plain": plain.path, "garbage": garbage}
