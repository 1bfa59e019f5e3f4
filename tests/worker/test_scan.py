"""The output scan: which frames, which decision, the real classifiers, the contact sheet."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from PIL import Image
from pydantic import ValidationError

from bot.settings import BotSettings
from core.spec import RenderSpec
from worker.backends import load_backend
from worker.contact_sheet import CAPTION_H, GRID_KEY, contact_sheet, grid_for, tile_size
from worker.frame_classifiers import (
    TINY_CLIP,
    ClipZeroShot,
    NudeNetClassifier,
    UnknownClassifier,
    load_classifiers,
)
from worker.output_check import OutputCheck, classifier_names, count_frames, decode_frames
from worker.scan import (
    FrameScore,
    decide,
    sample_indices,
    scan_frames,
    scored_categories,
    waivable,
    with_derived,
)
from worker.settings import WorkerConfig


def frame(index: int, **scores: float) -> FrameScore:
    return FrameScore(index=index, seconds=index / 24, scores=with_derived(scores))


# --- sampling and deciding ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("total", "expected"),
    [
        (121, [0, 17, 34, 51, 69, 86, 103, 120]),
        (8, list(range(8))),
        (3, [0, 1, 2]),
        (1, [0]),
        (0, []),
    ],
)
def test_first_last_and_six_evenly_spaced_frames(total: int, expected: list[int]) -> None:
    assert sample_indices(total) == expected


def test_under_every_threshold_is_allowed() -> None:
    decision, reasons, highest = decide(
        [frame(0, nudity=0.1), frame(9, nudity=0.3)], hold={"nudity": 0.5}, block={}
    )
    assert (decision, reasons) == ("allow", [])
    assert highest == {"nudity": 0.3}


def test_the_highest_frame_decides_and_says_where() -> None:
    decision, reasons, _ = decide(
        [frame(0, nudity=0.2), frame(48, nudity=0.7), frame(96, violence=0.9)],
        hold={"nudity": 0.5, "violence": 0.95},
        block={},
    )
    assert decision == "hold"
    assert reasons == ["nudity 0.70 ≥ 0.50 (frame 48, 2.0 s)"]


def test_a_minor_with_nudity_in_one_frame_is_blocked_not_held() -> None:
    frames = [frame(0, minor=0.9, nudity=0.6), frame(5, minor=0.1, nudity=0.1)]
    assert frames[0].scores["minor_nudity"] == 0.6
    decision, reasons, _ = decide(
        frames, hold={"nudity": 0.5}, block={"minor_nudity": 0.3}, skip={"nudity"}
    )
    assert decision == "block"
    assert reasons[0].startswith("minor_nudity 0.60 ≥ 0.30")


def test_minor_and_nudity_in_different_frames_are_not_combined() -> None:
    frames = [frame(0, minor=0.9, nudity=0.0), frame(5, minor=0.0, nudity=0.9)]
    decision, _, highest = decide(frames, hold={}, block={"minor_nudity": 0.3})
    assert decision == "allow" and highest["minor_nudity"] == 0.0


def test_an_nsfw_channel_waives_holds_but_never_minors_and_never_blocks() -> None:
    frames = [frame(0, nudity=0.9, minor=0.9, violence=0.9)]
    hold = {"nudity": 0.5, "minor": 0.5}
    waived, reasons, _ = decide(frames, hold={"nudity": 0.5}, block={}, skip={"nudity"})
    assert (waived, reasons) == ("allow", [])
    kept, reasons, _ = decide(frames, hold=hold, block={}, skip={"nudity", "minor"})
    assert kept == "hold" and [r.split()[0] for r in reasons] == ["minor"]
    blocked, _, _ = decide(frames, hold={}, block={"violence": 0.5}, skip={"violence"})
    assert blocked == "block"
    assert not waivable("minor") and not waivable("minor_nudity") and waivable("nudity")


def test_no_request_can_carry_a_waiver_for_minors() -> None:
    base = dict(prompt="a fox", aspect_ratio="16:9", width=64, height=64, num_frames=8, steps=2)
    base["seed"] = 1
    assert RenderSpec(**base, scan_skip=("nudity",)).scan_skip == ("nudity",)
    with pytest.raises(ValidationError, match="minors"):
        RenderSpec(**base, scan_skip=("minor_nudity",))
    with pytest.raises(ValidationError, match="minors"):
        BotSettings(scan_nsfw_skip={"*": ["minor"]})
    with pytest.raises(ValidationError, match="guild id"):
        BotSettings(scan_nsfw_skip={"../x": ["nudity"]})
    with pytest.raises(ValidationError, match="'Nudity' is not a category"):
        BotSettings(scan_nsfw_skip={"*": ["Nudity"]})


def test_thresholds_come_from_settings(monkeypatch) -> None:
    monkeypatch.setenv("REELBOT_SCAN_HOLD", json.dumps({"nudity": 0.25}))
    monkeypatch.setenv("REELBOT_SCAN_CLASSIFIERS", "none")
    config = WorkerConfig()
    assert config.scan_hold == {"nudity": 0.25}
    assert config.scan_block == {"minor_nudity": 0.3}
    assert not OutputCheck.from_config(config).enabled


def test_auto_means_nudenet_where_installed_plus_clip_where_configured() -> None:
    assert classifier_names("auto", None) == ["nudenet"]  # the test extra installs it
    assert classifier_names("auto", "openai/clip-vit-base-patch32") == ["nudenet", "clip"]
    assert classifier_names("none", "x") == ["none"]
    assert classifier_names(" NudeNet , clip ", None) == ["nudenet", "clip"]
    with pytest.raises(UnknownClassifier, match="unknown frame classifier 'nsfw'"):
        load_classifiers(["nsfw"])
    with pytest.raises(ValueError, match="REELBOT_SCAN_CLIP_MODEL"):
        load_classifiers(["clip"])


# --- the real classifiers -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def nudenet() -> NudeNetClassifier:
    return NudeNetClassifier()


@pytest.fixture(scope="module")
def rendered() -> np.ndarray:
    """A clip the tiny diffusers model renders, as the worker hands it to the scan."""
    spec = RenderSpec(
        prompt="a red kite over a beach",
        aspect_ratio="16:9",
        width=128,
        height=64,
        num_frames=12,
        steps=2,
        seed=3,
    )
    return load_backend("tiny", device="cpu").render(spec, lambda *_: None).frames


def benign_frames() -> np.ndarray:
    """A sky-and-sea gradient with a sun moving across it: nothing any category is about."""
    h, w = 180, 320
    y = np.linspace(0, 1, h)[:, None, None]
    sky = (np.array([90, 160, 230]) * (1 - y) + np.array([20, 60, 120]) * y).astype(np.uint8)
    frames = np.repeat(np.broadcast_to(sky, (h, w, 3))[None], 12, axis=0).copy()
    yy, xx = np.mgrid[:h, :w]
    for i, f in enumerate(frames):
        sun = (yy - 50) ** 2 + (xx - 40 - 20 * i) ** 2 < 20**2
        f[sun] = (250, 220, 90)
    return frames


def test_nudenet_allows_generated_benign_frames(nudenet, rendered) -> None:
    for frames in (rendered, benign_frames()):
        report = scan_frames([nudenet], frames, 24.0)
        assert report.decision == "allow", report.summary()
        assert report.classifiers == ["nudenet"]
        assert [f.index for f in report.frames] == sample_indices(len(frames))
        assert set(report.highest) == {"nudity", "suggestive"}
        assert all(0 <= v < 0.2 for v in report.highest.values()), report.highest


def test_nudenet_scores_react_to_the_picture(nudenet) -> None:
    """Real inference, not a constant: different pictures, different scores."""
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 255, (2, 200, 300, 3), dtype=np.uint8)
    flat = np.full((1, 200, 300, 3), 128, np.uint8)
    scores = nudenet.score([*noise, flat[0]])
    assert len(scores) == 3
    assert scores[0] != scores[2] and scores[1] != scores[2]


def test_a_zero_threshold_holds_even_benign_frames(nudenet) -> None:
    report = scan_frames([nudenet], benign_frames(), 24.0, hold={"nudity": 0.0}, block={})
    assert report.decision == "hold"
    assert report.summary().startswith("hold: nudity 0.0")


def test_the_clip_checker_scores_each_category_as_a_share_of_its_prompts() -> None:
    clip = ClipZeroShot(TINY_CLIP)
    scores = clip.score(list(benign_frames()[:3]))
    assert len(scores) == 3 and set(scores[0]) == {"nudity", "minor", "violence"}
    for row in scores:
        assert all(0 < v < 1 for v in row.values()) and sum(row.values()) < 1  # "safe" has the rest
    assert scores[0] != scores[2]  # the sun moved
    both = scan_frames([clip, NudeNetClassifier()], benign_frames(), 24.0, hold={}, block={})
    assert "minor_nudity" in both.highest  # both parts scored, so the combination is
    assert both.classifiers == ["clip", "nudenet"]


# --- the contact sheet --------------------------------------------------------------------------


@pytest.mark.parametrize(("count", "grid"), [(8, (4, 2)), (3, (3, 1)), (5, (4, 2)), (1, (1, 1))])
def test_grid_is_at_most_four_across(count: int, grid: tuple[int, int]) -> None:
    assert grid_for(count) == grid


def test_the_contact_sheet_tiles_the_sampled_frames_in_order_with_captions() -> None:
    frames = np.zeros((30, 90, 160, 3), np.uint8)
    for i in range(30):
        frames[i] = (i * 8, 255 - i * 8, 100)  # each frame its own colour
    report = scan_frames([], frames, 24.0)  # no classifier: sample by hand
    scored = [
        FrameScore(index=i, seconds=i / 24, scores={"nudity": 0.5}) for i in sample_indices(30)
    ]
    assert report.decision == "allow" and report.frames == []
    sheet = Image.open(io.BytesIO(contact_sheet(frames, scored)))
    tile_w, tile_h = tile_size(90, 160)
    assert sheet.text[GRID_KEY] == "4x2"
    assert sheet.size == (4 * tile_w, 2 * (tile_h + CAPTION_H))
    pixels = np.asarray(sheet.convert("RGB"))
    for n, score in enumerate(scored):
        x = (n % 4) * tile_w + tile_w // 2
        y = (n // 4) * (tile_h + CAPTION_H) + tile_h // 2
        assert np.abs(pixels[y, x].astype(int) - frames[score.index, 0, 0]).max() <= 2
    caption = pixels[tile_h + 2 : tile_h + CAPTION_H, :tile_w]
    assert caption.max() > 200  # the caption's text is drawn on the dark strip


def test_a_stored_clip_decodes_for_a_rescan(tmp_path, rendered) -> None:
    from worker.encode import encode_mp4

    path = tmp_path / "clip.mp4"
    encode_mp4(rendered, 8.0, path, fps=8, num_frames=len(rendered))
    assert count_frames(path) == (len(rendered), 8.0)
    last = len(rendered) - 1
    frames = decode_frames(path, [0, 5, last])
    assert sorted(frames) == [0, 5, last] and frames[5].shape == rendered.shape[1:]
    distance = [np.abs(frames[5].astype(int) - other).mean() for other in rendered]
    assert int(np.argmin(distance)) == 5  # that frame, not a neighbour

    check = OutputCheck([NudeNetClassifier()], hold={"nudity": 0.0}, block={}, samples=6)
    report, kept = check.scan_file(path)
    assert [f.index for f in report.frames] == sample_indices(len(rendered)) == sorted(kept)
    assert report.decision == "hold"
    sheet = Image.open(io.BytesIO(contact_sheet(kept, report.frames)))
    assert sheet.text[GRID_KEY] == "4x2"


def test_a_classifier_that_fails_holds_the_clip_instead_of_losing_or_posting_it() -> None:
    class Broken:
        name = "broken"
        categories = ("nudity",)

        def score(self, frames):
            raise RuntimeError("onnxruntime: out of memory")

    check = OutputCheck([Broken()], hold={"nudity": 0.5}, block={}, samples=6)
    report = check.scan(benign_frames(), 24.0)
    assert report.decision == "hold"
    assert report.reasons == ["the scan itself failed (RuntimeError), so nobody checked it"]
    assert [f.index for f in report.frames] == sample_indices(12)
    sheet = Image.open(io.BytesIO(contact_sheet(benign_frames(), report.frames)))
    assert sheet.text[GRID_KEY] == "4x2"


def test_nsfw_waivers_count_only_where_something_looks_for_minors(nudenet) -> None:
    assert scored_categories([nudenet]) == {"nudity", "suggestive"}
    clip = ClipZeroShot(TINY_CLIP)
    assert "minor_nudity" in scored_categories([nudenet, clip])
    hold = {"nudity": 0.0}
    alone = OutputCheck([nudenet], hold=hold, block={}, samples=6)
    assert not alone.sees_minors
    assert alone.scan(benign_frames(), 24.0, skip=("nudity",)).decision == "hold"
    both = OutputCheck([nudenet, clip], hold=hold, block={}, samples=6)
    assert both.sees_minors
    assert both.scan(benign_frames(), 24.0, skip=("nudity",)).decision == "allow"
