"""`-fast` on each family's `builtin:tiny` model renders offline: the recipe's fewer steps, the
cache hook where the transformer has room for it, and no download (LTX's distillation LoRA is for
the real 13B checkpoint only; the tiny model, or any other transformer, renders without it)."""

from __future__ import annotations

from typing import Any

import pytest

from core.capabilities import capabilities_for
from core.flags import parse_request
from core.spec import RenderSpec
from worker.backends import load_backend


def fast_spec(family: str) -> RenderSpec:
    caps = capabilities_for(family)
    spec = parse_request("a red fox running through snow -fast", capabilities=caps)
    assert spec.quality == "fast" and caps.fast is not None
    assert spec.steps == caps.fast.steps <= caps.default_steps  # ltx: already 8
    # the tiny models render small: the recipe's steps at the smallest size and length
    m = caps.size_multiple
    frames = caps.frame_step + 1 if caps.frame_step > 1 else 2
    return spec.model_copy(update={"width": 2 * m, "height": 2 * m, "num_frames": frames})


@pytest.mark.parametrize("family", ["ltx", "wan", "ltx2"])
def test_fast_on_the_tiny_model_renders_the_recipes_steps_offline(family: str) -> None:
    backend: Any = load_backend(family, model="builtin:tiny", device="cpu")
    spec = fast_spec(family)
    steps: list[tuple[int, int]] = []
    clip = backend.render(spec, lambda step, total: steps.append((step, total)))
    assert len(clip.frames) >= 1
    assert steps and {total for _, total in steps} == {spec.steps}
    assert backend.fast.last is not None and not backend.fast.last.lora  # nothing downloaded


@pytest.mark.parametrize("family", ["wan", "ltx2"])
def test_the_cache_hook_is_on_for_fast_clips_and_off_after(family: str) -> None:
    backend: Any = load_backend(family, model="builtin:tiny", device="cpu")
    spec = fast_spec(family)
    caps = capabilities_for(family)
    assert caps.fast is not None
    hooked: list[bool] = []
    transformer = backend.pipe.transformer
    backend.render(spec, lambda *_: hooked.append(bool(transformer.is_cache_enabled)))
    assert backend.fast.last.cache == caps.fast.cache != "off"
    assert all(hooked)
    assert not transformer.is_cache_enabled


def test_ltx_takes_the_distillation_lora_only_on_the_13b_transformer() -> None:
    from worker.backends.ltx import LTXBackend, lora_fits

    backend = load_backend("ltx", model="builtin:tiny", device="cpu")
    assert isinstance(backend, LTXBackend) and not backend.fast_lora
    big = type(
        "Config", (), {"num_layers": 48, "num_attention_heads": 32, "attention_head_dim": 128}
    )
    assert lora_fits(type("T", (), {"config": big})())
