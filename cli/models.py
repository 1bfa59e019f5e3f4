"""`reelbot models` and `reelbot models check`: what each family needs, and whether a folder has it.

The list is `core.models` with, per repository, where it already is (`REELBOT_MODELS_DIR`, or the
Hugging Face cache). `check` reads a pipeline folder's configs and builds every model in it on
the meta device (accelerate's `init_empty_weights`: shapes, no memory for weights), so a missing
file, the wrong family or a precision that won't fit is told before a worker loads for minutes.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cli.models_dir import configured_models_dir
from core.models import AUXILIARY, MODELS, FamilyModels, Repo

# model_index.json's `_class_name` -> family (several pipelines share a family's weights)
FAMILY_OF_PIPELINE = {
    "LTXPipeline": "ltx",
    "LTXConditionPipeline": "ltx",
    "LTXImageToVideoPipeline": "ltx",
    "WanPipeline": "wan",
    "WanImageToVideoPipeline": "wan",
    "WanVACEPipeline": "wan_vace",
    "StableDiffusionPipeline": "animatediff",
    "AnimateDiffPipeline": "animatediff",
    "StableVideoDiffusionPipeline": "svd",
    "LTX2Pipeline": "ltx2",
}
# the denoisers FP8 applies to (torchao float8 weight-only); the rest stay bf16
FP8_COMPONENTS = {"transformer", "unet"}
BYTES = {"fp32": 4, "bf16": 2, "fp8": 1}


class CheckFailed(Exception):
    """What is wrong with the folder, said so the operator can fix it."""


@dataclass(frozen=True)
class Component:
    name: str
    cls: str
    params: int  # 0 for tokenizers, schedulers, processors

    def gb(self, precision: str) -> float:
        each = BYTES[precision]
        if precision == "fp8" and self.name not in FP8_COMPONENTS:
            each = BYTES["bf16"]
        return self.params * each / 1e9


def where(repo: Repo, models_dir: Path | None, cached: set[str]) -> str:
    if models_dir is not None and (models_dir / repo.folder).is_dir():
        return f"pulled: {models_dir / repo.folder}"
    if repo.repo_id in cached:
        return "in the Hugging Face cache"
    return "not downloaded"


def _cached_repos() -> set[str]:
    from huggingface_hub import scan_cache_dir
    from huggingface_hub.errors import CacheNotFound

    try:
        return {repo.repo_id for repo in scan_cache_dir().repos}
    except CacheNotFound:
        return set()


def listing(
    models: dict[str, FamilyModels],
    models_dir: Path | None,
    cached: set[str],
    auxiliary: dict[str, FamilyModels] = AUXILIARY,
) -> str:
    """Every family: its repositories, sizes, licence, VRAM, and where each already is; then the
    repositories any family may use (the output scan's CLIP)."""
    lines: list[str] = []
    for family, entry in {**models, **auxiliary}.items():
        vram = "-" if entry.vram_bf16_gb is None else f"{entry.vram_bf16_gb:g} GB bf16"
        if entry.vram_fp8_gb is not None:
            vram += f", {entry.vram_fp8_gb:g} GB FP8"
        if not entry.repos:
            lines += [f"{family}: built in (REELBOT_MODEL=builtin:tiny), no download", ""]
            continue
        if family in auxiliary:
            lines.append(f"{family}: {entry.download_gb:g} GB to download; {entry.vram_source}")
        else:
            lines.append(f"{family}: {entry.download_gb:g} GB to download, VRAM {vram}")
        lines.append(f"  licence: {entry.licence}")
        for repo in entry.repos:
            optional = " (optional)" if repo.optional else ""
            lines.append(
                f"  {repo.role}{optional}: {repo.repo_id}  {repo.download_gb:g} GB  "
                f"[{repo.variable}]  {where(repo, models_dir, cached)}"
            )
        lines.append("")
    return "\n".join(lines).rstrip()


def _config(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise CheckFailed(f"missing file: {path}")
    try:
        loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise CheckFailed(f"{path} is not valid JSON ({exc})") from None
    return loaded


def _weights_present(folder: Path) -> None:
    """The folder's weights: one safetensors file, or every shard its index names."""
    for index in folder.glob("*.safetensors.index.json"):
        shards = set(_config(index).get("weight_map", {}).values())
        missing = sorted(s for s in shards if not (folder / s).is_file())
        if missing:
            raise CheckFailed(f"missing file: {folder / missing[0]} (named in {index.name})")
        return
    if not any(folder.glob("*.safetensors")) and not any(folder.glob("*.bin")):
        raise CheckFailed(f"missing file: {folder}/*.safetensors (the component's weights)")


def _meta_params(library: str, cls_name: str, folder: Path) -> int:
    """Parameters of the component built from its config on the meta device."""
    import importlib

    from accelerate import init_empty_weights

    cls = getattr(importlib.import_module(library), cls_name)
    with init_empty_weights():
        if library == "transformers":
            from transformers import AutoConfig

            model = cls._from_config(AutoConfig.from_pretrained(folder))
        else:
            model = cls.from_config(cls.load_config(folder))
    return int(sum(p.numel() for p in model.parameters()))


def loaded_components(family: str | None) -> set[str] | None:
    """The components a family's pipelines load: the folders `reelbot models pull` fetches
    (None: any). A model index may list more (SD 1.5's safety checker), never pulled or loaded."""
    entry = MODELS.get(family or "")
    if entry is None or not entry.repos:
        return None
    return {p.removesuffix("/*") for p in entry.main.allow_patterns if p.endswith("/*")}


def inspect_folder(
    folder: Path, *, weights: bool = True, family: str | None = None
) -> tuple[str, list[Component]]:
    """The pipeline class in `folder` and each component its family loads, built on the meta
    device; `weights=False` for a hub id whose configs alone were fetched."""
    index = _config(folder / "model_index.json")
    pipeline = str(index.get("_class_name", "?"))
    wanted = loaded_components(family or FAMILY_OF_PIPELINE.get(pipeline))
    components: list[Component] = []
    for name, spec in index.items():
        if name.startswith("_") or not isinstance(spec, list) or spec[0] is None:
            continue
        if wanted is not None and name not in wanted:
            continue
        library, cls_name = spec
        sub = folder / name
        if not sub.is_dir():
            raise CheckFailed(f"missing folder: {sub} (model_index.json lists {name})")
        params = 0
        if (sub / "config.json").is_file() and library in ("diffusers", "transformers"):
            if weights:
                _weights_present(sub)
            params = _meta_params(library, cls_name, sub)
        elif not any(sub.iterdir()):
            raise CheckFailed(f"missing files in {sub} ({cls_name})")
        components.append(Component(name, cls_name, params))
    return pipeline, components


def check(
    folder: Path,
    *,
    family: str | None,
    precision: str,
    vram_gb: float | None,
    weights: bool = True,
) -> tuple[str, list[str]]:
    """The family found and the report's lines; CheckFailed when the folder won't load."""
    try:
        pipeline, components = inspect_folder(folder, weights=weights, family=family)
    except CheckFailed as exc:
        found = family or _family_in(folder)
        if found is None or not str(exc).startswith("missing"):
            raise
        raise CheckFailed(
            f"{exc}; run `reelbot models pull {found}` again (it fetches only what is missing)"
        ) from None
    found = FAMILY_OF_PIPELINE.get(pipeline)
    if family is not None and found is not None and found != family:
        raise CheckFailed(
            f"{folder} holds a {pipeline} ({found}), not a {family} model; "
            f"set REELBOT_BACKEND={found}, or point REELBOT_MODEL at a {family} folder"
        )
    lines = [f"{folder}: {pipeline} ({found or 'unknown family'}), {precision}"]
    for c in components:
        size = f"{c.params:,} params  {c.gb(precision):.3f} GB" if c.params else "-"
        lines.append(f"  {c.name:<18} {c.cls:<34} {size}")
    total = sum(c.gb(precision) for c in components)
    lines.append(f"  weights: {total:.3f} GB in {precision} (activations come on top)")
    if not weights:
        lines.append("  (configs from the hub: the weight files were not downloaded or checked)")
    if vram_gb is not None and total > vram_gb:
        raise CheckFailed(
            "\n".join(lines)
            + f"\n{precision} weights need {total:.3f} GB, more than --vram-gb {vram_gb:g}; "
            "try --precision fp8 or a GPU with more memory"
        )
    return found or "?", lines


def _family_in(folder: Path) -> str | None:
    try:
        pipeline = json.loads((folder / "model_index.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return (
        FAMILY_OF_PIPELINE.get(str(pipeline.get("_class_name")))
        if isinstance(pipeline, dict)
        else None
    )


NOT_FOUND = "give a pipeline folder (one with model_index.json) or a hub id (owner/name)"


def _resolve(target: str, models_dir: Path | None) -> tuple[Path, bool]:
    """The folder to check, and whether its weights are on disk (False: configs from the hub)."""
    path = Path(target).expanduser()
    if path.is_dir():
        return path, True
    if models_dir is not None and (models_dir / target).is_dir():
        return models_dir / target, True
    if target.startswith(("/", ".", "~")) or path.exists():
        raise CheckFailed(f"no folder {target}: {NOT_FOUND}")
    from huggingface_hub import constants, snapshot_download
    from huggingface_hub.errors import HFValidationError, LocalEntryNotFoundError

    pulled = f"REELBOT_MODELS_DIR ({models_dir})" if models_dir else "REELBOT_MODELS_DIR (unset)"
    try:
        # configs only: enough for the meta build; the weights are not downloaded or checked
        return Path(snapshot_download(target, allow_patterns=["*.json", "*.txt", "*.model"])), False
    except HFValidationError:
        raise CheckFailed(f"{target} is neither a folder nor a hub id: {NOT_FOUND}") from None
    except LocalEntryNotFoundError:
        if constants.HF_HUB_OFFLINE:
            raise CheckFailed(
                f"{target} is not in {pulled} nor in the Hugging Face cache, and HF_HUB_OFFLINE "
                "is set: pull it (`reelbot models pull FAMILY`), or unset HF_HUB_OFFLINE"
            ) from None
        raise CheckFailed(
            f"{target}: could not reach the hub at {constants.ENDPOINT}; check the network "
            "(or HF_ENDPOINT), or check a pulled folder instead"
        ) from None


def cmd_models(args: argparse.Namespace) -> int:
    print(listing(MODELS, configured_models_dir(), _cached_repos()))
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    import sys

    try:
        folder, on_disk = _resolve(args.target, configured_models_dir())
        _, lines = check(
            folder,
            family=args.family,
            precision=args.precision,
            vram_gb=args.vram_gb,
            weights=on_disk,
        )
    except (CheckFailed, OSError, ValueError) as exc:
        print(f"reelbot models check: {exc}", file=sys.stderr)
        return 1
    print("\n".join(lines))
    return 0


def add_models_command(sub: Any) -> None:
    """`reelbot models` (the list) and its subcommands."""
    p = sub.add_parser("models", help="list each family's repositories, sizes and where they are")
    p.set_defaults(run=cmd_models)
    models_sub = p.add_subparsers(dest="models_command", metavar="SUBCOMMAND")
    c = models_sub.add_parser("check", help="check a model folder or hub id without loading it")
    c.add_argument("target", metavar="PATH_OR_ID")
    c.add_argument("--family", choices=sorted(f for f in MODELS if f != "tiny"))
    c.add_argument("--precision", choices=sorted(BYTES), default="bf16")
    c.add_argument("--vram-gb", type=float, default=None, help="fail when weights need more")
    c.set_defaults(run=cmd_check)
    from cli.models_pull import add_pull_command  # its own module: huggingface_hub on demand

    add_pull_command(models_sub)
