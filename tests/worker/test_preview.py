"""The gallery grid's preview: small, short, silent, light, and the same picture as the clip."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np

from tests.harness.video import decoded_means, gray_frames, top_level_boxes
from worker.encode import encode_mp4, probe_mp4, write_preview


def noise(frames: int, height: int, width: int) -> np.ndarray:
    return np.random.default_rng(3).integers(0, 256, (frames, height, width, 3), dtype=np.uint8)


def test_the_preview_is_360px_3s_silent_light_and_faststart(tmp_path: Path) -> None:
    frames = noise(33, 288, 512)  # 4 s at 8 fps, 16:9
    out = tmp_path / "clip.preview.mp4"

    preview = write_preview(frames, 8.0, out, fps=24, num_frames=96, metadata={"comment": "x"})

    assert (preview.width, preview.height) == (360, 202)  # the long side, even sizes
    assert (preview.num_frames, preview.fps) == (72, 24.0)  # the first 3 s
    assert probe_mp4(out) == preview
    assert top_level_boxes(out).index("moov") < top_level_boxes(out).index("mdat")
    with av.open(str(out)) as container:
        assert [s.type for s in container.streams] == ["video"]
        assert container.metadata["comment"] == "x"
    assert preview.size_bytes < 3 * 250_000 / 8 * 1.3  # about the target bit rate, even on noise


def test_a_short_small_clip_is_neither_stretched_nor_upscaled(tmp_path: Path) -> None:
    preview = write_preview(
        gray_frames([50] * 9, 48, 64), 8.0, tmp_path / "p.mp4", fps=24, num_frames=24
    )
    assert (preview.width, preview.height, preview.num_frames) == (64, 48, 24)


def test_the_preview_shows_the_clips_frames_in_order(tmp_path: Path) -> None:
    frames = gray_frames(list(range(0, 250, 6)), 400, 720)  # 42 frames: 5 s at 8 fps
    clip = encode_mp4(frames, 8.0, tmp_path / "clip.mp4", fps=24, num_frames=120)
    write_preview(frames, 8.0, tmp_path / "preview.mp4", fps=24, num_frames=120)
    full, short = decoded_means(clip.path), decoded_means(tmp_path / "preview.mp4")
    assert len(short) == 72
    assert np.allclose(short, full[:72], atol=3)
