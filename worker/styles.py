"""Style and effect LoRAs at render time: loaded on demand, a few kept resident, on for one job.

A job names a style (`StylePreset.adapter`); the worker finds its LoRA for the loaded family in
its own styles file (`core.stylefile`), never in the job. The LoRA is loaded with diffusers'
`load_lora_weights(..., adapter_name=...)`, from safetensors only (a local file must be one, and
a repository or folder is read with `use_safetensors=True` and a `.safetensors` weight name, so
diffusers never falls back to a pickle). Loaded adapters stay resident in a least-recently-used
list bounded by count (`REELBOT_STYLE_ADAPTERS_RESIDENT`); the one past the bound is removed
with `delete_adapters`. A count, not bytes: a LoRA's size is known only once it is loaded, and
for the families here a rank-32 LoRA is tens of MB against GB of model, so a handful costs
little while a reload costs a disk read (`bench/styles.py`).

During a job, `activate` makes exactly the adapters that job needs active, in one
`set_adapters` call: its style, the fast tier's LoRA, AnimateDiff's camera MotionLoRAs. After
it every LoRA layer is disabled, so the next job renders as if no style had ever been loaded
(a disabled PEFT layer returns its base layer's output untouched). A LoRA that fails to load
fails its job with a message naming the style; nothing of it stays in the pipeline.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import Any

from core.spec import RenderSpec, StylePreset
from core.stylefile import SAFE_SUFFIX, LoraEntry, StyleFile

log = logging.getLogger(__name__)

DEFAULT_RESIDENT = 4


class StyleLoadError(ValueError):
    """A style's LoRA could not be loaded: the job fails with this, the worker goes on."""


def loaded_adapters(pipe: Any) -> set[str]:
    """Every adapter the pipeline's LoRA-loadable modules hold."""
    if not hasattr(pipe, "get_list_adapters"):
        return set()
    return {name for names in pipe.get_list_adapters().values() for name in names}


def activate(pipe: Any, adapters: Mapping[str, float]) -> None:
    """Exactly `adapters` active (name → weight), every other LoRA layer off; none: all off."""
    if adapters:
        pipe.enable_lora()
        pipe.set_adapters(list(adapters), adapter_weights=list(adapters.values()))
    elif loaded_adapters(pipe):
        pipe.disable_lora()


def adapter_name(preset: StylePreset) -> str:
    """The adapter's name in the pipeline: its kind and the style's, clear of `fast` and the
    camera LoRAs' names."""
    return f"{preset.adapter}-{preset.name}"


def lora_kwargs(lora: LoraEntry, models_dir: Path | None) -> tuple[str, dict[str, Any]]:
    """What `load_lora_weights` gets for `lora`: a folder or hub id, and the safetensors file in
    it. A local file must be `.safetensors` (read from its folder, so its metadata comes too)."""
    path = Path(lora.lora).expanduser()
    if path.is_file():
        if path.suffix.lower() != SAFE_SUFFIX:
            raise ValueError(f"{lora.lora} is not a {SAFE_SUFFIX} file; LoRAs load from no other")
        return str(path.parent), {"weight_name": path.name, "use_safetensors": True}
    source = lora.lora
    pulled = Path(models_dir) / PurePosixPath(source) if models_dir else None
    if pulled is not None and "/" in source and not source.startswith(("/", ".")):
        source = str(pulled) if pulled.is_dir() else source  # `reelbot models pull`'s layout
    if lora.weight_name is not None and not lora.weight_name.lower().endswith(SAFE_SUFFIX):
        raise ValueError(f"weight_name {lora.weight_name} is not a {SAFE_SUFFIX} file")
    return source, {"weight_name": lora.weight_name, "use_safetensors": True}


def load_lora(pipe: Any, name: str, lora: LoraEntry, models_dir: Path | None = None) -> None:
    """Load `lora` into `pipe` as adapter `name`; on any failure nothing of it stays."""
    source, kwargs = lora_kwargs(lora, models_dir)
    try:
        pipe.load_lora_weights(source, adapter_name=name, **kwargs)
        if name not in loaded_adapters(pipe):
            raise ValueError("none of its weights match this model's layers")
    except BaseException:
        remove(pipe, name)
        raise


def remove(pipe: Any, name: str) -> None:
    """Delete adapter `name` from the pipeline if any part of it is there."""
    if name in loaded_adapters(pipe):
        try:
            pipe.delete_adapters([name])
        except Exception:  # a half-made adapter: what is left is disabled with the rest
            log.exception("styles: adapter %s could not be removed cleanly", name)


class StyleAdapters:
    """The styles file's LoRAs for one backend's pipelines (which share one denoiser)."""

    def __init__(
        self,
        styles: StyleFile,
        family: str,
        *,
        resident: int = DEFAULT_RESIDENT,
        models_dir: Path | None = None,
    ) -> None:
        if resident < 1:
            raise ValueError(f"resident={resident}: at least one adapter must fit")
        self.styles = styles
        self.family = family
        self.resident = resident
        self.models_dir = models_dir
        self._lru: OrderedDict[str, LoraEntry] = OrderedDict()  # adapter name → its LoRA
        self._lock = threading.Lock()
        self.loads = 0  # LoRA loads from disk (tests, bench)
        self.active: list[str] = []  # the adapters the latest job rendered with (logs, tests)

    @classmethod
    def none(cls, family: str) -> StyleAdapters:
        """No styles file: words-only styles work, any LoRA style is refused."""
        return cls(StyleFile(), family)

    @property
    def resident_names(self) -> list[str]:
        """Resident adapters, least recently used first."""
        return list(self._lru)

    def check(self, spec: RenderSpec) -> LoraEntry | None:
        """The LoRA `spec` needs here (None: words only); ValueError for what can't be."""
        preset = spec.style
        if preset is None or not preset.adapter:
            return None
        if preset.adapter == "effect" and spec.mode != "i2v":
            raise ValueError(f"the effect `{preset.name}` animates a picture; give it one")
        return self.styles.lora_for(preset, self.family)

    @contextmanager
    def use(self, pipe: Any, spec: RenderSpec) -> Iterator[dict[str, float]]:
        """Render inside this: yields the style's adapter and weight (empty for none), which
        the caller activates with whatever else the job needs (`activate`); every LoRA layer
        is off again afterwards."""
        lora = self.check(spec)
        wanted: dict[str, float] = {}
        with self._lock:
            if lora is not None:
                assert spec.style is not None
                name = adapter_name(spec.style)
                self._ensure(pipe, name, lora, spec.style)
                wanted[name] = lora.weight
            try:
                yield wanted
            finally:
                self.active = list(pipe.get_active_adapters()) if wanted else []
                if loaded_adapters(pipe):
                    pipe.disable_lora()

    def _ensure(self, pipe: Any, name: str, lora: LoraEntry, preset: StylePreset) -> None:
        """`name` resident and most recently used; loaded (evicting the oldest) if it is not."""
        if self._lru.get(name) == lora and name in loaded_adapters(pipe):
            self._lru.move_to_end(name)
            return
        self._lru.pop(name, None)
        remove(pipe, name)
        while len(self._lru) >= self.resident:
            oldest, _ = self._lru.popitem(last=False)
            remove(pipe, oldest)
            log.info("styles: adapter %s evicted (%d resident at most)", oldest, self.resident)
        noun = "effect" if preset.adapter == "effect" else "style"
        try:
            load_lora(pipe, name, lora, self.models_dir)
        except Exception as exc:
            log.warning(
                "styles: %s %s: LoRA %s failed to load: %s",
                noun,
                preset.name,
                lora.source,
                first_line(exc),
            )
            raise StyleLoadError(  # the loader's words are for the log, not the member
                f"the {noun} `{preset.name}` could not be loaded on this server; try without "
                "it, and tell the operator (`reelbot styles check` shows what is wrong)"
            ) from exc
        self.loads += 1
        self._lru[name] = lora
        log.info("styles: %s %s loaded as adapter %s", noun, preset.name, name)


def first_line(exc: BaseException) -> str:
    """The loader's first line, short, without a traceback."""
    lines = str(exc).strip().splitlines()
    text = lines[0] if lines else type(exc).__name__
    return text[:160]


def styles_for(config: Any, family: str) -> StyleAdapters:
    """The worker's adapters from its settings (REELBOT_STYLES_FILE, …_ADAPTERS_RESIDENT)."""
    return StyleAdapters(
        StyleFile.from_file(config.styles_file),
        family,
        resident=config.style_adapters_resident,
        models_dir=config.models_dir,
    )
