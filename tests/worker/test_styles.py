"""Style LoRAs on the real tiny pipelines, CPU: loaded on demand, active for one job, never after.

The LoRAs are random ones saved in diffusers' file layout (`tests.harness.loras`), loaded back
through `load_lora_weights` as a LoRA from the hub would be.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from peft.tuners.tuners_utils import BaseTunerLayer

from core.capabilities import FAMILIES
from core.flags import parse_request
from core.spec import RenderSpec
from core.stylefile import StyleFile
from tests.harness.loras import save_tiny_lora
from worker.backends import load_backend
from worker.backends.tiny import TinyBackend
from worker.fast import ADAPTER
from worker.styles import StyleAdapters, StyleLoadError, lora_kwargs


@pytest.fixture()
def backend() -> TinyBackend:
    built = load_backend("tiny", device="cpu")
    assert isinstance(built, TinyBackend)
    return built


def styles_toml(**loras: Path) -> str:
    """A styles file with one LoRA-only style per keyword (no words, so only the LoRA acts)."""
    return "\n".join(
        f'[styles.{name}]\n[styles.{name}.lora.tiny]\nlora = "{path}"\n'
        for name, path in loras.items()
    )


def use_styles(backend: TinyBackend, text: str, resident: int = 4) -> StyleAdapters:
    backend.styles = StyleAdapters(StyleFile.from_toml(text), "tiny", resident=resident)
    return backend.styles


def spec(backend: TinyBackend, text: str) -> RenderSpec:
    menu = backend.styles.styles.menu("tiny")
    return parse_request(text, capabilities=FAMILIES["tiny"], styles=menu, seed_source=lambda: 7)


def render(backend: TinyBackend, clip: RenderSpec) -> tuple[np.ndarray, set[str]]:
    """Frames, and the adapters active in the pipeline while it denoised."""
    active: set[str] = set()

    def on_step(step: int, total: int) -> None:
        pipe = backend.image_pipe if clip.mode == "i2v" else backend.pipe
        if any(isinstance(m, BaseTunerLayer) for m in pipe.transformer.modules()):
            layers = [m for m in pipe.transformer.modules() if isinstance(m, BaseTunerLayer)]
            if not layers[0].disable_adapters:
                active.update(pipe.get_active_adapters())

    return backend.render(clip, on_step).frames, active


def lora_layers_off(backend: TinyBackend) -> bool:
    layers = [m for m in backend.pipe.transformer.modules() if isinstance(m, BaseTunerLayer)]
    return bool(layers) and all(layer.disable_adapters for layer in layers)


def test_a_job_after_a_styled_job_renders_exactly_as_it_would_alone(
    backend: TinyBackend, tmp_path: Path
) -> None:
    use_styles(backend, styles_toml(anime=save_tiny_lora(tmp_path / "anime")))
    plain = spec(backend, "a fox in the snow")
    alone, _ = render(backend, plain)  # no LoRA was ever loaded

    styled, active = render(backend, spec(backend, "a fox in the snow -style anime"))
    assert active == {"style-anime"}  # the style's adapter was on while it denoised
    assert not np.array_equal(styled, alone)  # same seed, same words: the LoRA changed it
    assert lora_layers_off(backend)  # and every LoRA layer is off after the job

    after, active = render(backend, plain)
    assert active == set()
    assert np.array_equal(after, alone)  # bit for bit
    again, _ = render(backend, spec(backend, "a fox in the snow -style anime"))
    assert np.array_equal(again, styled) and backend.styles.loads == 1  # warm: not reloaded


def test_a_style_and_the_fast_loras_are_active_together_and_neither_after(
    backend: TinyBackend, tmp_path: Path
) -> None:
    use_styles(backend, styles_toml(anime=save_tiny_lora(tmp_path / "anime", seed=1)))
    distill = save_tiny_lora(tmp_path / "fast", seed=2)
    recipe = FAMILIES["tiny"].fast
    assert recipe is not None
    backend.capabilities = FAMILIES["tiny"].model_copy(
        update={"fast": recipe.model_copy(update={"lora": f"{distill.parent}::{distill.name}"})}
    )
    alone_fast, _ = render(backend, spec(backend, "a fox -fast"))
    alone_hq, _ = render(backend, spec(backend, "a fox -hq"))

    _, active = render(backend, spec(backend, "a fox -fast -style anime"))
    assert active == {ADAPTER, "style-anime"}
    _, active = render(backend, spec(backend, "a fox -hq -style anime"))
    assert active == {"style-anime"}  # hq: the style alone, the fast LoRA off

    after_fast, active = render(backend, spec(backend, "a fox -fast"))
    assert active == {ADAPTER}
    assert np.array_equal(after_fast, alone_fast)
    after_hq, active = render(backend, spec(backend, "a fox -hq"))
    assert active == set() and np.array_equal(after_hq, alone_hq)


def test_resident_adapters_are_bounded_by_count_least_recently_used_out(
    backend: TinyBackend, tmp_path: Path
) -> None:
    loras = {name: save_tiny_lora(tmp_path / name, seed=i) for i, name in enumerate("abc")}
    styles = use_styles(backend, styles_toml(**loras), resident=2)
    for name in ("a", "b", "a", "c"):  # c evicts b, the least recently used
        render(backend, spec(backend, f"a fox -style {name}"))
    assert styles.resident_names == ["style-a", "style-c"]
    assert set(backend.pipe.get_list_adapters()["transformer"]) == {"style-a", "style-c"}
    assert styles.loads == 3
    render(backend, spec(backend, "a fox -style b"))  # cold again: a goes
    assert styles.resident_names == ["style-c", "style-b"] and styles.loads == 4


@pytest.mark.parametrize("broken", ["missing", "wrong-model", "not-a-lora"])
def test_a_lora_that_fails_to_load_fails_that_job_naming_the_style_and_the_next_one_renders(
    backend: TinyBackend, tmp_path: Path, broken: str
) -> None:
    good = save_tiny_lora(tmp_path / "good")
    if broken == "missing":
        bad = tmp_path / "gone" / "lora.safetensors"
    elif broken == "wrong-model":  # a LoRA for another family's layers
        bad = save_tiny_lora(tmp_path / "wan", family="wan")
    else:
        import torch
        from safetensors.torch import save_file

        bad = tmp_path / "junk.safetensors"
        save_file({"some.weight": torch.zeros(2, 2)}, bad)
    use_styles(backend, styles_toml(good=good, broken=bad))
    plain = spec(backend, "a fox in the snow")
    alone, _ = render(backend, plain)
    render(backend, spec(backend, "a fox -style good"))  # another adapter resident

    with pytest.raises(StyleLoadError, match="the style `broken` could not be loaded"):
        backend.render(spec(backend, "a fox -style broken"), lambda *_: None)
    assert "style-broken" not in backend.pipe.get_list_adapters().get("transformer", [])
    after, active = render(backend, plain)
    assert active == set() and np.array_equal(after, alone)
    _, active = render(backend, spec(backend, "a fox -style good"))
    assert active == {"style-good"}


def test_an_effect_is_refused_without_a_picture(backend: TinyBackend, tmp_path: Path) -> None:
    lora = save_tiny_lora(tmp_path / "squish")
    use_styles(backend, f'[effects.squish]\n[effects.squish.lora.tiny]\nlora = "{lora}"\n')
    with pytest.raises(ValueError, match="animates a picture"):
        backend.render(spec(backend, "a fox -style squish"), lambda *_: None)


def test_loras_load_from_safetensors_only(tmp_path: Path) -> None:
    from core.stylefile import LoraEntry

    odd = tmp_path / "lora.weights"
    odd.write_bytes(b"not safetensors")
    with pytest.raises(ValueError, match=r"not a \.safetensors file"):
        lora_kwargs(LoraEntry(lora=str(odd)), None)
    folder, kwargs = lora_kwargs(LoraEntry(lora="owner/repo", weight_name="a.safetensors"), None)
    assert (folder, kwargs) == (
        "owner/repo",
        {"weight_name": "a.safetensors", "use_safetensors": True},
    )
    with pytest.raises(ValueError, match="pickle"):
        LoraEntry(lora="owner/repo/lora.ckpt")


def test_a_style_on_the_camera_loras_of_animatediff(tmp_path: Path) -> None:
    """AnimateDiff's camera MotionLoRAs and a style LoRA are active together, then neither."""
    backend = load_backend("animatediff", model="builtin:tiny", device="cpu")
    lora = save_tiny_lora(tmp_path / "ink", family="animatediff")
    backend.styles = StyleAdapters(  # type: ignore[attr-defined]
        StyleFile.from_toml(f'[styles.ink]\n[styles.ink.lora.animatediff]\nlora = "{lora}"\n'),
        "animatediff",
    )
    caps = FAMILIES["animatediff"].model_copy(update={"native_pixels": 96 * 64, "default_steps": 2})
    menu = backend.styles.styles.menu("animatediff")  # type: ignore[attr-defined]

    def clip(text: str) -> tuple[np.ndarray, set[str]]:
        active: set[str] = set()
        pipe = backend.pipe  # type: ignore[attr-defined]

        def on_step(step: int, total: int) -> None:
            layers = [m for m in pipe.unet.modules() if isinstance(m, BaseTunerLayer)]
            if not layers[0].disable_adapters:
                active.update(pipe.get_active_adapters())

        made = parse_request(text, capabilities=caps, styles=menu, seed_source=lambda: 3)
        return backend.render(made, on_step).frames, active

    alone, active = clip("a fox -camera zoom in -len 1 -ar 1:1")
    assert active == {"zoom-in"}
    styled, active = clip("a fox -camera zoom in -len 1 -ar 1:1 -style ink")
    assert active == {"zoom-in", "style-ink"} and not np.array_equal(styled, alone)
    after, active = clip("a fox -camera zoom in -len 1 -ar 1:1")
    assert active == {"zoom-in"} and np.array_equal(after, alone)
