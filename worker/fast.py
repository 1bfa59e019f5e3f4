"""The fast tier at render time: a family's `FastRecipe` switched on for one clip, off after.

A worker keeps one set of weights warm and serves both qualities, so nothing here changes the
pipeline for good: for a `fast` clip the recipe's distillation LoRA is made active (loaded with
diffusers' `load_lora_weights` at the first fast clip, then kept as the adapter `fast`), its
cache hook is attached to the transformer, and on a GPU with FP8 matmuls the clip runs on an
FP8 copy of the transformer; when the clip is done the hook comes off and the pipeline is the
full-precision, adapter-free one again, which is what `hq` clips render with. Steps come from
the spec (the front end set them from the recipe) and guidance from
`Capabilities.guidance_for`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from core.rendercaps import FastRecipe
from core.spec import Quality
from worker.styles import activate

log = logging.getLogger(__name__)

ADAPTER = "fast"


@dataclass
class FastApplied:
    """What the fast tier did to one clip (logged, and read by the tests)."""

    lora: str = ""
    cache: str = "off"
    fp8: bool = False


def lora_source(lora: str) -> tuple[str, str | None]:
    """`repo_or_folder::weight_name` -> (repo_or_folder, weight_name); no `::`: no weight name."""
    source, _, weight_name = lora.partition("::")
    return source, weight_name or None


class FastPath:
    """The fast tier's state for one backend's pipelines (which share one transformer)."""

    def __init__(self, device: str) -> None:
        self.device = device
        self._lora: str | None = None  # the recipe LoRA loaded as ADAPTER, if any
        self._fp8: Any = None  # the FP8 copy of the transformer, once made
        self._fp8_decided = False
        self._said: set[str] = set()
        self.last: FastApplied | None = None  # what the latest clip got (logs, tests)

    @contextmanager
    def use(
        self,
        pipe: Any,
        quality: Quality,
        recipe: FastRecipe | None,
        *,
        lora: bool = True,
        adapters: Mapping[str, float] = MappingProxyType({}),
    ) -> Iterator[FastApplied]:
        """Render inside this with `pipe`: the recipe applied for a fast clip, taken off after.

        `lora=False` when the loaded checkpoint is already distilled (LTX's default).
        `adapters` are the job's other LoRAs (its style, `worker.styles`), made active
        together with the recipe's in one `set_adapters`; every other adapter is off."""
        applied = self.last = FastApplied()
        if quality != "fast" or recipe is None:
            activate(pipe, adapters)
            yield applied
            return
        wanted = dict(adapters)
        if recipe.lora and lora:
            self._load_lora(pipe, recipe.lora)
            wanted[ADAPTER] = recipe.lora_scale
            applied.lora = recipe.lora
        activate(pipe, wanted)
        full = pipe.transformer
        if recipe.fp8 and self._fp8_transformer(full) is not None:
            pipe.transformer = self._fp8
            applied.fp8 = True
        transformer = pipe.transformer
        if recipe.cache != "off" and self._cache_fits(transformer, recipe.cache):
            from worker.accel import cache_config

            transformer.enable_cache(
                cache_config(recipe.cache, pipe=pipe, num_inference_steps=recipe.steps)
            )
            applied.cache = recipe.cache
        try:
            yield applied
        finally:
            if applied.cache != "off":
                transformer.disable_cache()
            if applied.fp8:
                pipe.transformer = full

    def _load_lora(self, pipe: Any, lora: str) -> None:
        if self._lora == lora:
            return
        source, weight_name = lora_source(lora)
        try:
            pipe.load_lora_weights(source, weight_name=weight_name, adapter_name=ADAPTER)
        except Exception as exc:
            raise ValueError(
                f"the fast tier's LoRA {lora!r} could not be loaded for this model ({exc}); "
                "render with -hq, or have the operator put the LoRA where the worker finds it "
                "(`reelbot models pull`)"
            ) from exc
        self._lora = lora
        log.info("fast tier: LoRA %s loaded as adapter %r", lora, ADAPTER)

    def _fp8_transformer(self, transformer: Any) -> Any:
        """The FP8 copy, made at the first fast clip where `worker.fp8.fp8_refusal` allows it."""
        if self._fp8_decided:
            return self._fp8
        self._fp8_decided = True
        import importlib.util

        import torch

        from worker.fp8 import fp8_copy, fp8_refusal

        cuda = self.device.startswith("cuda") and torch.cuda.is_available()
        capability = torch.cuda.get_device_capability(self.device) if cuda else None
        free = torch.cuda.mem_get_info(torch.device(self.device))[0] if cuda else 0
        size = sum(p.numel() * p.element_size() for p in transformer.parameters())
        refusal = fp8_refusal(
            device=self.device if cuda else "cpu",
            capability=capability,
            torchao=importlib.util.find_spec("torchao") is not None,
            free_bytes=free,
            transformer_bytes=size,
        )
        if refusal is not None:
            # on a CPU that is the expected case, not news
            (log.debug if capability is None else log.warning)("fast tier: no FP8 (%s)", refusal)
            return None
        self._fp8 = fp8_copy(transformer)
        log.info("fast tier: FP8 copy of the transformer made")
        return self._fp8

    def _cache_fits(self, transformer: Any, cache: str) -> bool:
        """A cache hook needs diffusers' CacheMixin and an eager transformer (its skip does not
        trace with fullgraph=True): the compiled full-precision transformer on a GPU has none."""
        if not hasattr(transformer, "enable_cache"):
            return False
        if cache == "first-block" and _blocks(transformer) < 2:  # it needs a head and a tail
            return False
        if cache in _REGISTRY_CACHES and not _blocks_registered(transformer):
            if cache not in self._said:
                self._said.add(cache)
                log.warning(
                    "fast tier: diffusers' %s cache does not know this transformer's blocks; "
                    "fast clips render without a cache hook",
                    cache,
                )
            return False
        if any(
            getattr(sub, "_compiled_call_impl", None) is not None for sub in transformer.modules()
        ):
            if "compiled" not in self._said:
                self._said.add("compiled")
                log.info("fast tier: the transformer is compiled; no cache hook on it")
            return False
        return True


# Caches that look a block's outputs up in diffusers' TransformerBlockRegistry (LTX-2's blocks are
# not in it as of diffusers 0.42: first-block there raises "not registered" mid-render).
_REGISTRY_CACHES = frozenset({"first-block", "mag"})


def _blocks_registered(transformer: Any) -> bool:
    """Whether every repeated block class of `transformer` is in diffusers' block registry."""
    import torch
    from diffusers.hooks._helpers import TransformerBlockRegistry

    TransformerBlockRegistry._register()
    known = TransformerBlockRegistry._registry
    return all(
        type(block) in known
        for name, child in transformer.named_children()
        if isinstance(child, torch.nn.ModuleList) and "blocks" in name
        for block in child
    )


def _blocks(transformer: Any) -> int:
    """The transformer's repeated blocks, as diffusers' cache hooks find them."""
    import torch

    return sum(
        len(child)
        for name, child in transformer.named_children()
        if isinstance(child, torch.nn.ModuleList) and "blocks" in name
    )
