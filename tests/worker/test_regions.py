"""Region finding: "the red car" becomes a mask per frame of a clip, with the real SAM 3 video
model's code (tiny and random, built in code or saved and loaded as the hub lays it out).

What the edit renderer relies on: one bool mask per frame at the frame's size, None when the
words match nothing (the member is told so), the same masks every time, and a long clip costing
no more model passes than `max_frames`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image

from worker.model_sources import ModelLoadError
from worker.regions import TINY, RegionFinder, sample_indices, spread
from worker.regions_tiny import write_tiny_regions

WIDTH, HEIGHT = 64, 48
LOW = 0.1  # the tiny random detector scores its queries about 0.25


def clip(count: int, seed: int = 0) -> list[Image.Image]:
    """A clip of `count` frames: a bright box drifting over noise."""
    rng = np.random.default_rng(seed)
    frames = []
    for i in range(count):
        pixels = rng.integers(0, 80, (HEIGHT, WIDTH, 3), dtype=np.uint8)
        left = 4 + (i % 30)
        pixels[10:30, left : left + 20] = (220, 30, 30)
        frames.append(Image.fromarray(pixels))
    return frames


@pytest.fixture(scope="module", autouse=True)
def one_thread() -> Iterator[None]:
    """The tiny model's ops take microseconds: on a shared 2-core machine handing each to two
    threads costs ten times the work (0.7 s against 4-14 s a find, measured), so one thread."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def finder(one_thread: None) -> RegionFinder:
    return RegionFinder.load(TINY, device="cpu", threshold=LOW)


def spy(monkeypatch: pytest.MonkeyPatch, owner: Any, name: str) -> list[Any]:
    """Record the keyword arguments of every call to `owner.name`, which still runs."""
    calls: list[Any] = []
    real: Callable[..., Any] = getattr(owner, name)

    def recorded(*args: Any, **kwargs: Any) -> Any:
        calls.append(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(owner, name, recorded)
    return calls


def test_a_mask_per_frame_at_the_frames_size(finder: RegionFinder) -> None:
    masks = finder.find(clip(9), "the red car")

    assert masks is not None
    assert masks.shape == (9, HEIGHT, WIDTH)
    assert masks.dtype == np.bool_
    assert masks.any()


def test_the_words_reach_the_model_and_change_the_mask(
    finder: RegionFinder, monkeypatch: pytest.MonkeyPatch
) -> None:
    texts = spy(monkeypatch, finder.model.detector_model, "get_text_features")

    car = finder.find(clip(9), "the red car")
    sky = finder.find(clip(9), "the sky")

    expected = finder.tokenizer("the red car", padding="max_length", max_length=32).input_ids
    assert texts[0]["input_ids"].tolist() == [expected]
    assert texts[1]["input_ids"].tolist() != [expected]
    assert car is not None and sky is not None
    assert not np.array_equal(car, sky)


def test_the_same_clip_and_words_give_the_same_masks(finder: RegionFinder) -> None:
    again = RegionFinder.load(TINY, device="cpu", threshold=LOW)

    first = finder.find(clip(9), "the red car")
    assert first is not None
    assert np.array_equal(first, finder.find(clip(9), "the red car"))
    assert np.array_equal(first, again.find(clip(9), "the red car"))


def test_nothing_above_the_threshold_is_none(finder: RegionFinder) -> None:
    strict = RegionFinder(finder.model, finder.tokenizer, threshold=0.99)

    assert strict.find(clip(9), "the red car") is None
    assert finder.find(clip(9), "the red car") is not None  # the shared model is unchanged


def test_the_saved_tiny_model_loads_as_the_hub_model_does(
    finder: RegionFinder, tmp_path: Path
) -> None:
    folder = write_tiny_regions(tmp_path / "sam3")
    assert (folder / "config.json").is_file()
    assert (folder / "model.safetensors").is_file()
    assert (folder / "tokenizer_config.json").is_file()

    loaded = RegionFinder.load(str(folder), device="cpu", threshold=LOW)

    masks = loaded.find(clip(9), "the red car")
    assert masks is not None
    assert np.array_equal(masks, finder.find(clip(9), "the red car"))


def test_a_long_clip_costs_at_most_max_frames_passes(monkeypatch: pytest.MonkeyPatch) -> None:
    short = RegionFinder.load(TINY, device="cpu", threshold=LOW, max_frames=5)
    passes = spy(monkeypatch, short.model.detector_model, "get_vision_features")

    masks = short.find(clip(200), "the red car")

    assert len(passes) <= 5
    assert masks is not None
    assert masks.shape == (200, HEIGHT, WIDTH)
    picks = sample_indices(200, 5)
    for left, right in pairwise(picks):
        between = masks[left + 1 : right]
        assert (between == (masks[left] | masks[right])).all()


def test_sampling_keeps_the_ends_and_spreads_evenly() -> None:
    assert sample_indices(9, 64) == list(range(9))
    picks = sample_indices(200, 5)
    assert picks == [0, 50, 100, 149, 199]


def test_a_frame_between_two_samples_gets_both_masks() -> None:
    first = np.zeros((2, 3), dtype=bool)
    first[0, 0] = True
    last = np.zeros((2, 3), dtype=bool)
    last[1, 2] = True

    out = spread([first, last], [0, 3], 4)

    assert out[0].tolist() == first.tolist()
    assert out[3].tolist() == last.tolist()
    assert out[1].tolist() == out[2].tolist() == (first | last).tolist()


def test_bad_input_says_what_to_do(finder: RegionFinder) -> None:
    with pytest.raises(ValueError, match="name the region in words"):
        finder.find(clip(2), "  ")
    with pytest.raises(ValueError, match="every frame must be 64x48"):
        finder.find([*clip(1), Image.new("RGB", (32, 32))], "the red car")


def test_a_folder_without_the_model_names_the_setting_and_the_fix(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError) as caught:
        RegionFinder.load(str(tmp_path), device="cpu")

    message = str(caught.value)
    assert f"REELBOT_REGIONS_MODEL={tmp_path}: can't load the region finder's model" in message
    assert "pull facebook/sam3" in message
