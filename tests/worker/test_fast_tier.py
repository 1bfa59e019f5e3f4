"""The fast tier on the real tiny LTX pipeline, CPU: fewer steps, the cache hook, a real LoRA.

The LoRA is a random one saved in diffusers' own LoRA format (`save_lora_weights` of peft
layers), loaded back through `load_lora_weights` exactly as a hub LoRA would be.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from core.capabilities import FAMILIES
from core.flags import parse_request
from core.spec import RenderSpec
from worker.backends import load_backend
from worker.backends.tiny import TinyBackend
from worker.fast import ADAPTER, lora_source
from worker.fp8 import fp8_refusal


@pytest.fixture()
def backend() -> TinyBackend:
    built = load_backend("tiny", device="cpu")
    assert isinstance(built, TinyBackend)
    return built


def spec(text: str) -> RenderSpec:
    return parse_request(text, capabilities=FAMILIES["tiny"], seed_source=lambda: 5)


def watch(backend: TinyBackend, clip: RenderSpec) -> tuple[np.ndarray, list[tuple[int, int, bool]]]:
    """Frames, and per step (step, total, cache hook attached to the transformer)."""
    seen: list[tuple[int, int, bool]] = []

    def on_step(step: int, total: int) -> None:
        seen.append((step, total, bool(backend.pipe.transformer.is_cache_enabled)))

    return backend.render(clip, on_step).frames, seen


def save_random_lora(folder: Path) -> Path:
    """A rank-4 LoRA on the tiny transformer's attention, both matrices random (peft's default
    zero `lora_B` would change nothing), saved as diffusers saves any LoRA."""
    import torch
    from diffusers import LTXPipeline
    from peft import LoraConfig, get_peft_model_state_dict
    from peft.tuners.tuners_utils import BaseTunerLayer

    from worker.backends.tiny import _build_pipeline

    scratch = _build_pipeline().transformer  # a throwaway copy of the same architecture
    config = LoraConfig(
        r=4, lora_alpha=4, target_modules=["to_q", "to_k", "to_v"], init_lora_weights=False
    )
    scratch.add_adapter(config)
    with torch.no_grad():
        for module in scratch.modules():
            if isinstance(module, BaseTunerLayer):
                for weight in (module.lora_A["default"].weight, module.lora_B["default"].weight):
                    weight.normal_(std=0.5)
    LTXPipeline.save_lora_weights(
        folder, transformer_lora_layers=get_peft_model_state_dict(scratch)
    )
    return folder / "pytorch_lora_weights.safetensors"


def test_fast_runs_the_recipes_steps_with_the_cache_hook_and_hq_the_full_schedule(
    backend: TinyBackend,
) -> None:
    fast, hq = spec("a fox in the snow -fast"), spec("a fox in the snow -hq")
    _, fast_steps = watch(backend, fast)
    assert backend.last_fast.cache == "taylorseer"
    _, hq_steps = watch(backend, hq)
    assert [total for _, total, _ in fast_steps] == [2, 2]  # the tiny recipe: 2 of 4 steps
    assert all(hooked for *_, hooked in fast_steps)
    assert [total for _, total, _ in hq_steps] == [4] * 4
    assert not any(hooked for *_, hooked in hq_steps)  # taken off after the fast clip
    assert not backend.pipe.transformer.is_cache_enabled


def test_a_recipe_lora_is_loaded_for_fast_clips_only(backend: TinyBackend, tmp_path: Path) -> None:
    lora = save_random_lora(tmp_path)
    fast = spec("a fox in the snow -fast")
    hq = spec("a fox in the snow -hq")
    plain_fast, _ = watch(backend, fast)
    plain_hq, _ = watch(backend, hq)
    recipe = FAMILIES["tiny"].fast
    assert recipe is not None
    backend.capabilities = FAMILIES["tiny"].model_copy(
        update={"fast": recipe.model_copy(update={"lora": f"{tmp_path}::{lora.name}"})}
    )

    with_lora, _ = watch(backend, fast)
    assert backend.last_fast.lora == f"{tmp_path}::{lora.name}"
    assert ADAPTER in backend.pipe.get_list_adapters()["transformer"]
    assert not np.array_equal(with_lora, plain_fast)  # the adapter changed the clip
    again, _ = watch(backend, fast)
    assert np.array_equal(again, with_lora)  # loaded once, deterministic
    hq_after, _ = watch(backend, hq)
    assert np.array_equal(hq_after, plain_hq)  # hq renders without the adapter


def test_a_lora_that_will_not_load_fails_the_clip_saying_what_to_do(
    backend: TinyBackend, tmp_path: Path
) -> None:
    recipe = FAMILIES["tiny"].fast
    assert recipe is not None
    missing = f"{tmp_path / 'nowhere'}::lora.safetensors"
    backend.capabilities = FAMILIES["tiny"].model_copy(
        update={"fast": recipe.model_copy(update={"lora": missing})}
    )
    with pytest.raises(ValueError, match=r"(?s)fast tier.s LoRA .* render with -hq"):
        backend.render(spec("a fox -fast"), lambda *_: None)


def test_lora_source_splits_the_weight_name() -> None:
    assert lora_source("Lightricks/LTX-Video::x.safetensors") == (
        "Lightricks/LTX-Video",
        "x.safetensors",
    )
    assert lora_source("/models/lora") == ("/models/lora", None)


@pytest.mark.parametrize(
    ("kwargs", "refused"),
    [
        ({"device": "cpu", "capability": None, "torchao": True}, "not a CUDA device"),
        ({"device": "cuda", "capability": (8, 0), "torchao": True}, "8.0 has no FP8"),
        ({"device": "cuda", "capability": (9, 0), "torchao": False}, "torchao"),
        (
            {"device": "cuda", "capability": (8, 9), "torchao": True, "free_bytes": 2**30},
            "GiB free",
        ),
    ],
)
def test_fp8_is_refused_where_it_cannot_run(kwargs: dict[str, Any], refused: str) -> None:
    kwargs.setdefault("transformer_bytes", 10 * 2**30)
    reason = fp8_refusal(**kwargs)
    assert reason is not None and refused in reason


@pytest.mark.parametrize("capability", [(8, 9), (9, 0), (10, 0)])
def test_fp8_is_used_on_ada_hopper_and_newer_with_room(capability: tuple[int, int]) -> None:
    assert (
        fp8_refusal(
            device="cuda:0",
            capability=capability,
            torchao=True,
            free_bytes=40 * 2**30,
            transformer_bytes=26 * 2**30,
        )
        is None
    )
