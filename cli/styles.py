"""`reelbot styles` lists the styles and effects this server offers; `reelbot styles check
[FILE]` checks a styles file before a worker loads it (`reelbot styles preview`: cli.previews).

The check reads the file as every process does (`core.stylefile`: families known, names, fields,
safetensors only), then each LoRA: a local file or folder must exist and hold a `.safetensors`
file, anything else must look like a hub id (`owner/name`). Where the weights are on this
machine, they are loaded with the family's own pipeline class (`load_lora_weights`, safetensors
only) into its denoiser: the tiny family's, built in code; a real family's built from its
config on the meta device (no weights read, so any size checks in seconds) when its model folder
is here (`REELBOT_MODEL` or a `reelbot models pull`). A LoRA whose shapes don't fit is a problem.
What could not be checked here is said as a note. Exit 2 with one line per problem.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from cli.previews import add_preview_command
from core.errors import ConfigError
from core.stylefile import SAFE_SUFFIX, LoraEntry, StyleFile

EXIT_PROBLEMS = 2
HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]{0,95}/[\w.-]{1,96}$")
# family → (pipeline class, its denoiser's attribute, the denoiser's class), all in diffusers
DENOISERS: dict[str, tuple[str, str, str]] = {
    "tiny": ("LTXPipeline", "transformer", "LTXVideoTransformer3DModel"),
    "ltx": ("LTXPipeline", "transformer", "LTXVideoTransformer3DModel"),
    "ltx2": ("LTX2Pipeline", "transformer", "LTX2VideoTransformer3DModel"),
    "wan": ("WanPipeline", "transformer", "WanTransformer3DModel"),
    "animatediff": ("StableDiffusionPipeline", "unet", "UNet2DConditionModel"),
}


def add_styles_command(sub: Any) -> None:
    """`reelbot styles` and `reelbot styles check [FILE]` on the command's subparsers."""
    parser = sub.add_parser("styles", help="list the styles and effects this server offers")
    parser.set_defaults(run=cmd_styles)
    actions = parser.add_subparsers(dest="styles_command", metavar="ACTION")
    check = actions.add_parser(
        "check", help="check a styles file (fields, families, files, LoRA shapes)"
    )
    check.add_argument(
        "file", type=Path, nargs="?", default=None, help="default: REELBOT_STYLES_FILE"
    )
    check.set_defaults(run=cmd_styles_check)
    add_preview_command(actions)  # reelbot styles preview [NAME…]


def _settings() -> Any:
    """The styles file and family every process reads, and where the family's models are."""
    from jobs.settings import load_settings
    from worker.settings import ModelSettings

    class Settings(ModelSettings):  # REELBOT_STYLES_FILE, REELBOT_BACKEND, REELBOT_MODEL…
        styles_file: Path | None = None
        backend: str = "tiny"

    return load_settings(Settings)


def cmd_styles(args: argparse.Namespace) -> int:
    """One line per style and effect the loaded family offers, then those it lacks."""
    settings = _settings()
    menu = StyleFile.from_file(settings.styles_file).menu(settings.backend)
    source = settings.styles_file or "built-in presets only (REELBOT_STYLES_FILE unset)"
    print(f"styles on {settings.backend} ({source}):")
    for name in menu.style_names():
        preset = menu[name]
        kind = "LoRA" if preset.adapter else "words"
        print(
            f"  -style {name:<14} {kind:<6} {menu.descriptions.get(name) or preset.prompt_suffix}"
        )
    for name in sorted(menu.effects):
        print(
            f"  effect {name:<14} {'LoRA' if menu[name].adapter else 'words':<6} "
            f"{menu.descriptions.get(name) or menu.effects[name].prompt}"
        )
    for name, lacked in sorted(menu.lacked.items()):
        print(f"  ({lacked.kind} {name}: only on {', '.join(lacked.families)})")
    return 0


def cmd_styles_check(args: argparse.Namespace) -> int:
    settings = _settings()
    path = args.file or settings.styles_file
    if path is None:
        raise ConfigError(
            "no styles file: give one (`reelbot styles check FILE`) or set REELBOT_STYLES_FILE"
        )
    try:
        styles = StyleFile.from_file(path)
    except ConfigError as exc:
        for line in str(exc).splitlines():
            print(f"reelbot: {line}", file=sys.stderr)
        return EXIT_PROBLEMS
    from diffusers.utils import logging as diffusers_logging

    diffusers_logging.set_verbosity(diffusers_logging.CRITICAL)  # its errors: our lines instead
    problems: list[str] = []
    checked = 0
    for table, name, family, lora in _loras(styles):
        where = f"{path}: [{table}.{name}] lora.{family}"
        for kind, text in check_lora(family, lora, settings):
            if kind == "problem":
                problems.append(f"{where}: {text}")
            else:
                print(f"note: {where}: {text}")
        checked += 1
    for line in problems:
        print(f"reelbot: {line}", file=sys.stderr)
    if problems:
        return EXIT_PROBLEMS
    print(
        f"{path}: {len(styles.styles)} styles, {len(styles.effects)} effects, {checked} LoRAs: fine"
    )
    return 0


def _loras(styles: StyleFile) -> Iterator[tuple[str, str, str, LoraEntry]]:
    for table, name, entry in styles.entries():
        for family, lora in sorted(entry.lora.items()):
            yield table, name, family, lora


def check_lora(family: str, lora: LoraEntry, settings: Any) -> list[tuple[str, str]]:
    """("problem" | "note", text) for one family's LoRA; empty: it loads."""
    path = Path(lora.lora).expanduser()
    if path.is_file():
        if path.suffix.lower() != SAFE_SUFFIX:
            return [("problem", f"{lora.lora} is not a {SAFE_SUFFIX} file")]
        return _shapes(family, path.parent, path.name, settings)
    if path.is_dir() or lora.lora.startswith(("/", ".", "~")):
        if not path.is_dir():
            return [("problem", f"{lora.lora}: no such file or folder")]
        if lora.weight_name is not None:
            if not (path / lora.weight_name).is_file():
                return [("problem", f"{lora.lora} has no {lora.weight_name}")]
            return _shapes(family, path, lora.weight_name, settings)
        found = sorted(path.glob(f"*{SAFE_SUFFIX}"))
        if len(found) != 1:
            return [
                (
                    "problem",
                    f"{lora.lora} holds {len(found)} {SAFE_SUFFIX} files; "
                    "name one with weight_name",
                )
            ]
        return _shapes(family, path, found[0].name, settings)
    if not HUB_ID.fullmatch(lora.lora):
        return [("problem", f"{lora.lora!r} is neither a file, a folder nor a hub id (owner/name)")]
    local = _cached(lora, settings.models_dir)
    if local is None:
        return [
            (
                "note",
                f"{lora.source} is not on this machine; its shapes are checked when a "
                "worker first loads it",
            )
        ]
    return _shapes(family, local.parent, local.name, settings)


def _cached(lora: LoraEntry, models_dir: Path | None) -> Path | None:
    """The hub LoRA's file on this machine: pulled under REELBOT_MODELS_DIR or in the hub cache."""
    name = lora.weight_name
    if models_dir is not None:
        pulled = Path(models_dir) / lora.lora
        if name and (pulled / name).is_file():
            return pulled / name
    if name is None:
        return None
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(lora.lora, name)
    return Path(found) if isinstance(found, str) else None


def _shapes(family: str, folder: Path, weight_name: str, settings: Any) -> list[tuple[str, str]]:
    """Load the LoRA into the family's denoiser: the tiny one, or the real one on the meta
    device from its model folder's config."""
    if family not in DENOISERS:
        return [("note", f"no denoiser to check {family} LoRAs against here")]
    if family == "tiny":
        from worker.backends.tiny import _build_pipeline

        pipe = _build_pipeline()
    else:
        model = _model_folder(family, settings)
        if model is None:
            return [
                (
                    "note",
                    f"no {family} model folder here (`reelbot models pull {family}`); "
                    "its shapes are checked when a worker first loads it",
                )
            ]
        pipe = meta_pipeline(family, model)
    try:
        pipe.load_lora_weights(
            str(folder),
            weight_name=weight_name,
            use_safetensors=True,
            adapter_name="check",
            low_cpu_mem_usage=family != "tiny",
        )
        if "check" not in {n for names in pipe.get_list_adapters().values() for n in names}:
            return [("problem", f"none of its weights match the {family} model's layers")]
    except Exception as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        return [("problem", f"does not load into the {family} model: {first}")]
    return []


def _model_folder(family: str, settings: Any) -> Path | None:
    """The family's model folder on this machine, if there is one."""
    from core.models import MODELS
    from worker.model_sources import locate

    entry = MODELS.get(family)
    model = settings.model if settings.backend == family else None
    value = model or (entry.main.repo_id if entry and entry.repos else None)
    if value is None:
        return None
    found = Path(locate(value, settings.models_dir))
    return found if found.is_dir() else None


def meta_pipeline(family: str, folder: Path) -> Any:
    """The family's pipeline class around its denoiser, built from `folder`'s config on the
    meta device (shapes only, no memory), with no other component."""
    import diffusers
    import torch

    pipeline_name, attribute, model_name = DENOISERS[family]
    model_class = getattr(diffusers, model_name)
    config = model_class.load_config(str(folder), subfolder=attribute)
    with torch.device("meta"):
        denoiser = model_class.from_config(config)
    pipeline_class = getattr(diffusers, pipeline_name)
    expected, _ = pipeline_class._get_signature_keys(pipeline_class)
    pipe = object.__new__(pipeline_class)  # no __init__: it would want every other component
    diffusers.DiffusionPipeline.__init__(pipe)
    pipe.register_modules(**(dict.fromkeys(expected) | {attribute: denoiser}))
    return pipe
