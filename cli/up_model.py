"""`reelbot up --model ID_OR_FOLDER`: a real model's first clip, pulled if missing, at a size
this machine makes in minutes.

The model is a family name (its registry default), a hub id, or a pipeline folder. Its family is
found in the registry (`core.models`), in the folder's `model_index.json`, or in the hub's copy
of that file. The family's repositories that are neither pulled into `REELBOT_MODELS_DIR` nor
in the Hugging Face cache are pulled there first (`cli.models_pull`), so the worker then loads
them through `from_pretrained` as it would anywhere. Without a GPU the first clip is rendered
at the family's `core.models.CPU_PLANS` entry (size, length, steps), and what that costs here is
said before anything starts; a family without one is refused on a CPU with what it would need.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TextIO

from cli.models import FAMILY_OF_PIPELINE
from cli.models_dir import configured_models_dir
from cli.models_pull import PullError, describe, pull_repos
from core.capabilities import FAMILIES
from core.errors import UserFacingError
from core.models import CPU_PLANS, MODELS, CpuPlan, FamilyModels, Repo, family_of_repo
from core.rendercaps import Capabilities

CPU_FAMILY = "animatediff"  # the one family with a CPU plan: what to suggest instead
MODELS_SUBDIR = "models"  # under REELBOT_DATA_DIR when REELBOT_MODELS_DIR is unset


class ModelChoiceError(UserFacingError):
    """`--model` names nothing reelbot can load here; says what would."""


@dataclass(frozen=True)
class ModelChoice:
    """What `--model` resolved to: the family, the REELBOT_MODEL value, and where pulls go."""

    family: str
    model: str  # a hub id or a folder, as REELBOT_MODEL takes it
    models_dir: Path
    folder: bool  # `model` is a folder of the operator's (nothing of it is pulled)

    @property
    def registry(self) -> FamilyModels:
        return MODELS[self.family]

    def repos(self) -> tuple[Repo, ...]:
        """The family's repositories, the main one being `model` (a hub id, when it is not the
        registry's default, is pulled instead of it)."""
        repos = self.registry.repos
        return (replace(repos[0], repo_id=self.model), *repos[1:])

    def worker_env(self) -> dict[str, str]:
        return {
            "REELBOT_BACKEND": self.family,
            "REELBOT_MODEL": self.model,
            "REELBOT_MODELS_DIR": str(self.models_dir),
        }


def choose(value: str, *, data_dir: Path) -> ModelChoice:
    """Resolve `--model`: a family name, a folder, a registry id, or another hub id whose
    `model_index.json` names a pipeline reelbot knows."""
    models_dir = configured_models_dir() or data_dir / MODELS_SUBDIR
    if value in MODELS:
        if not MODELS[value].repos:
            raise ModelChoiceError(
                f"--model {value}: the {value} model is built in; `reelbot up` without --model "
                "uses it"
            )
        return ModelChoice(value, MODELS[value].main.repo_id, models_dir, folder=False)
    path = Path(value).expanduser()
    if path.is_dir():
        return ModelChoice(_family_of_index(path, value), str(path.resolve()), models_dir, True)
    if value.startswith(("/", ".", "~")) or value.count("/") != 1:
        raise ModelChoiceError(
            f"--model {value}: no such folder, and not a hub id (owner/name) or a family "
            f"({', '.join(f for f in MODELS if MODELS[f].repos)})"
        )
    family = family_of_repo(value)
    if family is None:
        pulled = models_dir / value
        index = pulled if pulled.is_dir() else _hub_index(value)
        family = _family_of_index(index, value)
    return ModelChoice(family, value, models_dir, folder=False)


def _family_of_index(folder: Path, value: str) -> str:
    """The family of the pipeline `folder/model_index.json` names."""
    try:
        index = json.loads((folder / "model_index.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise ModelChoiceError(
            f"--model {value}: {folder} has no readable model_index.json; give a diffusers "
            "pipeline folder or hub id (`reelbot models` lists each family's)"
        ) from None
    pipeline = str(index.get("_class_name")) if isinstance(index, dict) else "?"
    family = FAMILY_OF_PIPELINE.get(pipeline)
    if family is None:
        raise ModelChoiceError(
            f"--model {value}: its pipeline {pipeline} is none reelbot renders with "
            f"({', '.join(sorted(FAMILY_OF_PIPELINE))})"
        )
    return family


def _hub_index(repo_id: str) -> Path:
    """The folder holding the hub's `model_index.json` of `repo_id` (nothing else fetched)."""
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import EntryNotFoundError, HfHubHTTPError, OfflineModeIsEnabled

    try:
        return Path(hf_hub_download(repo_id, "model_index.json")).parent
    except EntryNotFoundError:
        raise ModelChoiceError(
            f"--model {repo_id}: the repository has no model_index.json (not a diffusers "
            "pipeline); give one that is, or a family name"
        ) from None
    except (OfflineModeIsEnabled, HfHubHTTPError, OSError) as exc:
        raise ModelChoiceError(
            f"--model {repo_id}: can't read its model_index.json from the hub "
            f"({type(exc).__name__}); check the network, HF_ENDPOINT and HF_HUB_OFFLINE, or give "
            "a family name or a folder"
        ) from None


def missing(choice: ModelChoice, cached: set[str]) -> tuple[Repo, ...]:
    """The repositories that are neither pulled under the models folder nor in the cache (an
    operator's own folder stands for the main one)."""
    main, *auxiliary = choice.repos()
    return tuple(
        repo
        for repo in ([] if choice.folder else [main]) + auxiliary
        if not (choice.models_dir / repo.folder).is_dir() and repo.repo_id not in cached
    )


def fetch(choice: ModelChoice, out: TextIO, *, progress: bool = True) -> None:
    """Pull what is missing into the models folder, saying what and where."""
    from cli.models import _cached_repos

    wanted = missing(choice, _cached_repos())
    if not wanted:
        print(f"models:  {choice.family} is here ({choice.model})", file=out)
        return
    size = sum(r.download_gb for r in wanted)
    print(
        f"models:  pulling {len(wanted)} repositories of {choice.family} (about {size:.1f} GB) "
        f"into {choice.models_dir}; Ctrl-C and the same command again resumes",
        file=out,
    )
    choice.models_dir.mkdir(parents=True, exist_ok=True)
    try:
        pulled = pull_repos(choice.family, wanted, into=choice.models_dir, progress=progress)
    except KeyboardInterrupt:
        raise PullError(
            "interrupted; run the same command again to resume (files already in place are kept)"
        ) from None
    for line in describe(pulled):
        print(f"models:  {line}", file=out)


def has_gpu(device: str) -> bool:
    """Whether the worker will render on a GPU (REELBOT_DEVICE, `auto` asks torch)."""
    if device != "auto":
        return device.startswith("cuda")
    import torch

    return bool(torch.cuda.is_available())


def first_clip_capabilities(family: str, plan: CpuPlan) -> Capabilities:
    """The family's capabilities with the plan's size, length and steps (both tiers), for the
    first clip only: later clips are sized as the family is."""
    caps = FAMILIES[family]
    fast = caps.fast.model_copy(update={"steps": plan.steps}) if caps.fast else None
    return caps.model_copy(
        update={
            "native_pixels": plan.width * plan.height,
            "default_seconds": plan.seconds,
            "default_steps": plan.steps,
            "fast": fast,
        }
    )


def cost_line(family: str, plan: CpuPlan, cores: int) -> str:
    """What the first clip costs on this machine, said before anything starts."""
    minutes = plan.estimate_s(cores) / 60
    frames = round(plan.seconds * FAMILIES[family].native_fps)
    return (
        f"cost:    no GPU, so the first clip is {plan.width}x{plan.height}, {plan.seconds:g} s "
        f"({frames} frames rendered), {plan.steps} steps: about {minutes:.0f} min on {cores} "
        f"CPU cores and {plan.ram_gb:g} GB of memory (measured {plan.step_s:g} s a step and "
        f"{plan.once_s:g} s to encode and decode on {plan.cores} cores: {plan.measured}); later "
        f"clips at "
        f"{family}'s usual size take several times longer"
    )


def cpu_plan(family: str) -> CpuPlan:
    """The family's CPU plan, or a refusal that says why and what runs on a CPU instead."""
    plan = CPU_PLANS.get(family)
    if plan is None:
        raise ModelChoiceError(
            f"--model: the {family} family has no CPU plan: its weights need more memory than "
            f"a small machine has in fp32 (the worker's CPU precision; `reelbot models` lists "
            f"sizes, bench/cpu_models.py measures them). Run it where a GPU is (REELBOT_DEVICE"
            f"=cuda), or make CPU clips with `--model {CPU_FAMILY}`"
        )
    return plan


def cpu_cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


@dataclass(frozen=True)
class ModelSetup:
    """What `reelbot up` needs of `--model`: the workers' settings and the first clip's size."""

    family: str
    worker_env: dict[str, str]
    first_clip: Capabilities | None  # None: the family's own (on a GPU)


def prepare(value: str, *, data_dir: Path, out: TextIO, progress: bool = True) -> ModelSetup:
    """Blocking: resolve `--model`, say what the first clip costs, pull what is missing."""
    choice = choose(value, data_dir=data_dir)
    print(f"model:   {choice.model} ({choice.family})", file=out)
    first_clip = None
    if has_gpu(os.environ.get("REELBOT_DEVICE", "auto")):
        vram = choice.registry.vram_bf16_gb
        print(
            f"cost:    a GPU renders the first clip at {choice.family}'s usual settings; "
            f"it needs about {vram:g} GB of GPU memory in bf16",
            file=out,
        )
    else:
        plan = cpu_plan(choice.family)  # refused before any download
        print(cost_line(choice.family, plan, cpu_cores()), file=out)
        first_clip = first_clip_capabilities(choice.family, plan)
    fetch(choice, out, progress=progress)
    return ModelSetup(choice.family, choice.worker_env(), first_clip)
