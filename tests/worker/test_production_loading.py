"""The production loading branch (`from_pretrained` on folders), offline, for every family.

Each family's tiny pipeline is saved in its real repositories' layout, one folder per repository
under a models folder (`cli.tiny_models`); the worker is pointed at it only by
`REELBOT_MODELS_DIR` (or by each repository's own setting), with `HF_HUB_OFFLINE=1`, and must
load through `from_pretrained` and render a clip. Before the registry, ltx and animatediff could
not: their auxiliary repositories were fixed hub ids with no setting.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cli.tiny_models import write_tiny
from core.models import MODELS, MOTION_ADAPTER_ID
from core.spec import RenderSpec
from worker.model_sources import ModelLoadError, load_configured
from worker.settings import WorkerConfig

FAMILIES = [f for f in MODELS if f != "tiny"]


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("models")
    for family in FAMILIES:
        write_tiny(family, root)
    return root


@pytest.fixture(autouse=True)
def offline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))  # an empty cache: nothing to fall back on


def config(family: str, **settings: object) -> WorkerConfig:
    return WorkerConfig(backend=family, device="cpu", **settings)  # type: ignore[arg-type]


def render_one(backend: object, family: str, tmp_path: Path) -> np.ndarray:
    mode = "i2v" if family == "svd" else "t2v"
    inputs: list[Path] = []
    if mode == "i2v":
        inputs = [tmp_path / "a.png"]
        Image.fromarray(np.full((64, 64, 3), 120, np.uint8)).save(inputs[0])
    spec = RenderSpec(
        prompt="a lighthouse at dusk",
        aspect_ratio="1:1",
        width=64,
        height=64,
        num_frames=12,
        fps=24,
        steps=2,
        seed=7,
        mode=mode,
        backend=family,
    )
    clip = backend.render(spec, lambda step, total: None, inputs=inputs)  # type: ignore[attr-defined]
    return clip.frames  # type: ignore[no-any-return]


@pytest.mark.parametrize("family", FAMILIES)
def test_a_pulled_family_loads_offline_from_models_dir_alone(
    family: str, models_dir: Path, tmp_path: Path
) -> None:
    backend = load_configured(config(family, models_dir=models_dir))
    frames = render_one(backend, family, tmp_path)
    assert frames.ndim == 4 and frames.shape[1:] == (64, 64, 3) and len(frames) > 1
    assert frames.std() > 0  # the random weights draw something, not a blank


def test_ltx_upsampler_from_its_own_setting(models_dir: Path, tmp_path: Path) -> None:
    """No models folder: the main model and the upsampler each named by a folder."""
    backend = load_configured(
        config(
            "ltx",
            model=str(models_dir / "Lightricks/LTX-Video-0.9.7-distilled"),
            ltx_upsampler_model=str(models_dir / "Lightricks/ltxv-spatial-upscaler-0.9.7"),
        )
    )
    assert render_one(backend, "ltx", tmp_path).shape[1:] == (64, 64, 3)


def test_animatediff_adapter_and_loras_from_their_own_settings(
    models_dir: Path, tmp_path: Path
) -> None:
    backend = load_configured(
        config(
            "animatediff",
            model=str(models_dir / "emilianJR/epiCRealism"),
            animatediff_motion_adapter=str(models_dir / MOTION_ADAPTER_ID),
            animatediff_motion_loras=str(models_dir / "guoyww") + "/animatediff-motion-lora-{name}",
        )
    )
    assert render_one(backend, "animatediff", tmp_path).shape[1:] == (64, 64, 3)
    assert set(backend.pipe.get_list_adapters()["unet"]) >= {"zoom-in", "rolling-clockwise"}  # type: ignore[attr-defined]


def test_a_missing_upsampler_names_its_setting(models_dir: Path, tmp_path: Path) -> None:
    """The main model is there, the upsampler is not: one line naming the setting and the fix."""
    only_main = tmp_path / "models"
    (only_main / "Lightricks").mkdir(parents=True)
    (only_main / "Lightricks/LTX-Video-0.9.7-distilled").symlink_to(
        models_dir / "Lightricks/LTX-Video-0.9.7-distilled"
    )
    with pytest.raises(ModelLoadError) as caught:
        load_configured(config("ltx", models_dir=only_main))
    message = str(caught.value)
    assert message.startswith(
        "REELBOT_LTX_UPSAMPLER_MODEL=Lightricks/ltxv-spatial-upscaler-0.9.7: can't load it"
    )
    assert "HF_HUB_OFFLINE" in message and "reelbot models pull ltx" in message
    assert "\n" not in message
