"""Where each repository of the loaded family comes from: a setting, a pulled folder, or the hub.

A setting (`REELBOT_MODEL`, `REELBOT_LTX_UPSAMPLER_MODEL`, …; see `core.models`) may name a hub id
or a folder. A hub id whose folder `reelbot models pull` made under `REELBOT_MODELS_DIR` loads from
that folder, so after a pull the family needs no further settings, online or offline. Whatever
fails to load becomes one `ModelLoadError` line naming the setting, its value and what is missing.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from core.errors import UserFacingError
from core.models import CAMERA_LORA_NAMES, MODELS

if TYPE_CHECKING:
    from worker.output_check import OutputCheck
    from worker.settings import WorkerConfig

PULL_HINT = "run `reelbot models pull {family}`, or set it to a folder that has it"


class ModelLoadError(UserFacingError):
    """The worker's model (or one of its auxiliary repositories) could not be loaded. The
    message is the operator's (settings, paths); `member_hint` is what a member whose clip
    needed the model can do instead, if anything."""

    def __init__(self, message: str, *, member_hint: str = "") -> None:
        super().__init__(message)
        self.member_hint = member_hint


def locate(value: str, models_dir: Path | None) -> str:
    """A folder for `value` when there is one (itself, or its pull under `models_dir`), else
    `value` unchanged (a hub id, resolved by huggingface_hub)."""
    if value.startswith("builtin:") or Path(value).is_dir():
        return value
    if models_dir is not None and "/" in value and not value.startswith(("/", ".")):
        pulled = Path(models_dir) / PurePosixPath(value)
        if pulled.is_dir():
            return str(pulled)
    return value


def sources(config: WorkerConfig) -> dict[str, str]:
    """Each registry setting of the configured family -> where it loads from (the main model's
    value under `model`); empty for an operator's own backend."""
    entry = MODELS.get(config.backend)
    if entry is None or not entry.repos:
        return {}
    found: dict[str, str] = {}
    for repo in entry.repos:
        if repo.setting in found:  # the camera LoRAs share one (template) setting
            continue
        value = getattr(config, repo.setting, None) or repo.repo_id
        found[repo.setting] = _located_template(value, config.models_dir)
    return found


def _located_template(value: str, models_dir: Path | None) -> str:
    """`locate` for a value that may hold `{name}` (the camera LoRAs): pulled when the first
    LoRA's folder is there."""
    if "{name}" not in value:
        return locate(value, models_dir)
    first = value.format(name=CAMERA_LORA_NAMES[0])
    found = locate(first, models_dir)
    return value if found == first else found.removesuffix(first) + value


def _missing_piece(exc: BaseException) -> str:
    """The first line of what the loader said, without a traceback."""
    lines = str(exc).strip().splitlines()
    first = lines[0] if lines else type(exc).__name__
    if isinstance(exc, OSError | ValueError):
        return first
    return f"{type(exc).__name__}: {first}"  # e.g. SafetensorError, torch's OutOfMemoryError


@contextmanager
def loading(family: str, setting: str, value: str) -> Iterator[None]:
    """Turn a failure to load one repository into a ModelLoadError naming its setting."""
    try:
        yield
    except Exception as exc:  # any: a restart would fail alike (a torn file, a shape, memory)
        offline = " (HF_HUB_OFFLINE is set)" if os.environ.get("HF_HUB_OFFLINE") else ""
        raise ModelLoadError(
            f"REELBOT_{setting.upper()}={value}: can't load it{offline}: {_missing_piece(exc)}; "
            + PULL_HINT.format(family=family)
        ) from exc


def load_configured(config: WorkerConfig) -> Any:
    """The configured family's backend, each repository from where `sources` found it."""
    from worker.backends import load_backend

    found = sources(config)
    model = found.pop("model", config.model)
    try:
        return load_backend(config.backend, model=model, device=config.device, **found)
    except ModelLoadError:
        raise
    except Exception as exc:  # after the files: moving to the device, compiling, memory
        raise ModelLoadError(
            f"REELBOT_BACKEND={config.backend} on REELBOT_DEVICE={config.device}: can't load "
            f"it: {_missing_piece(exc)}; `reelbot models` lists each family's VRAM, "
            "`reelbot models check FOLDER --vram-gb N` whether a folder's weights fit"
        ) from exc


def load_output_check(config: WorkerConfig) -> OutputCheck:
    """The output scan's classifiers, its CLIP model found under REELBOT_MODELS_DIR as the
    families' repositories are; a failure is a ModelLoadError naming the scan's settings."""
    from worker.output_check import OutputCheck

    clip = config.scan_clip_model
    located = config.model_copy(
        update={"scan_clip_model": locate(clip, config.models_dir) if clip else clip}
    )
    try:
        return OutputCheck.from_config(located)
    except Exception as exc:
        raise ModelLoadError(
            f"the output scan can't load its classifiers (REELBOT_SCAN_CLASSIFIERS="
            f"{config.scan_classifiers}, REELBOT_SCAN_CLIP_MODEL={clip}): {_missing_piece(exc)}; "
            "set REELBOT_SCAN_CLIP_MODEL to a folder that has the CLIP model (or start once with "
            "the network so the Hugging Face cache has it), or change REELBOT_SCAN_CLASSIFIERS"
        ) from exc


def load_models(config: WorkerConfig) -> tuple[Any, OutputCheck]:
    """Everything a worker loads before it can render: the family's backend, then the scan."""
    return load_configured(config), load_output_check(config)
